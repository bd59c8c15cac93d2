"""Slow and greedy clients against a real ``bff serve`` process with small limits:
request heads and bodies that never finish, clients that leave mid-body, more
connections than allowed, and a WebSocket message far over the size limit.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from bff.testing.server import free_port
from tests.processes import BFF, clean_env, running

TIMEOUT_S = 1  # BFF_HEADER_TIMEOUT_S and BFF_BODY_TIMEOUT_S
MAX_CONNECTIONS = 5
FRAME_LIMIT = 1_048_576  # max_body_bytes, the default, is also the WebSocket frame limit
HALF_A_BODY = (
    b"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    b"content-length: 100\r\n\r\n" + b'{"query":"'
)

pytestmark = pytest.mark.timeout(60)


@dataclass
class Served:
    """A ``bff serve`` process whose output (stdout and stderr) goes to ``log``."""

    process: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.log.read_text()

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("event") == name:
                found.append(entry)
        return found

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS in /proc/<pid>/status")


@contextmanager
def serving(log: Path, **env: str) -> Iterator[Served]:
    """``bff serve`` on a free port with ``env``, its output in ``log``, until exit."""
    port = free_port()
    argv = [*BFF, "serve", "--port", str(port)]
    ready = f"http://127.0.0.1:{port}/healthz"
    with running(argv, ready_url=ready, env=clean_env(**env), log=log) as process:
        yield Served(process, port, log)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    log = tmp_path_factory.mktemp("slow-clients") / "bff.log"
    with serving(
        log,
        BFF_HEADER_TIMEOUT_S=str(TIMEOUT_S),
        BFF_BODY_TIMEOUT_S=str(TIMEOUT_S),
        BFF_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        BFF_RATE_LIMIT="none",
    ) as served:
        yield served
    # Nothing any test sent made the server log an application error.
    text = log.read_text()
    assert "Traceback" not in text and "Exception in ASGI application" not in text, text[-4000:]


def _open(server: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.settimeout(5)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic()


def _health_latency(server: Served) -> float:
    started = time.monotonic()
    response = httpx.get(f"{server.url}/healthz", timeout=1)
    assert response.status_code == 200
    return time.monotonic() - started


def _assert_closed_with_408(sock: socket.socket, opened: float) -> bytes:
    received, closed = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408"), received
    assert TIMEOUT_S * 0.9 <= closed - opened <= 3 * TIMEOUT_S, closed - opened
    return received


@contextmanager
def _trickling(sock: socket.socket, data: bytes, every_s: float = 0.1) -> Iterator[None]:
    """Send ``data`` a byte at a time, ``every_s`` apart, until it is all sent, the server
    closes the connection, or the block ends."""
    stop = threading.Event()

    def send() -> None:
        for byte in data:
            if stop.wait(every_s):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return

    sender = threading.Thread(target=send)
    sender.start()
    try:
        yield
    finally:
        stop.set()
        sender.join(timeout=5)


HEAD = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: " + b"a" * 200


@pytest.mark.parametrize("trickle", [False, True], ids=["half", "trickled"])
def test_a_late_request_head_gets_408_and_is_closed(server: Served, trickle: bool) -> None:
    """Half a request line and then silence, or a head sent a byte at a time (slowloris):
    either way the head is late."""
    late = len(server.events("headers_late"))
    with _open(server) as sock:
        sent = time.monotonic()
        if trickle:
            with _trickling(sock, HEAD):
                assert _health_latency(server) < 1  # the loop is not held by the slow client
                _assert_closed_with_408(sock, sent)
        else:
            sock.sendall(b"GET /heal")
            assert _health_latency(server) < 1
            _assert_closed_with_408(sock, sent)
    assert len(server.events("headers_late")) == late + 1


def test_a_silent_connection_gets_408_and_is_closed(server: Served) -> None:
    with _open(server) as sock:
        opened = time.monotonic()
        assert _health_latency(server) < 1
        _assert_closed_with_408(sock, opened)


@pytest.mark.parametrize("trickle", [False, True], ids=["half", "trickled"])
def test_a_late_body_gets_408_and_is_closed(server: Served, trickle: bool) -> None:
    """Half a body and then silence, or a body sent a byte at a time: the body's
    deadline counts from the request's head, whatever arrives in between."""
    head, _, start = HALF_A_BODY.partition(b"\r\n\r\n")
    with _open(server) as sock:
        sent = time.monotonic()
        if trickle:
            sock.sendall(head + b"\r\n\r\n")
            with _trickling(sock, start + b"a" * 90):
                assert _health_latency(server) < 1
                received = _assert_closed_with_408(sock, sent)
        else:
            sock.sendall(HALF_A_BODY)
            assert _health_latency(server) < 1
            received = _assert_closed_with_408(sock, sent)
    response_head, _, body = received.partition(b"\r\n\r\n")
    assert b"connection: close" in response_head.lower()
    assert json.loads(body)["errors"][0]["message"]


def test_a_client_gone_mid_body_is_logged_at_info_without_a_traceback(server: Served) -> None:
    part = b'{"query":"'

    def mine() -> list[dict[str, Any]]:
        return [e for e in server.events("client_gone") if e.get("received_bytes") == len(part)]

    assert mine() == []
    sock, answer = _hold(server)
    with sock:
        assert answer == b"HTTP/1.1 100 Continue\r\n\r\n"  # the app is reading the body
        sock.sendall(part)
    deadline = time.monotonic() + 5
    while not mine() and time.monotonic() < deadline:
        time.sleep(0.02)
    entries = mine()
    assert len(entries) == 1, server.text()[-4000:]
    (entry,) = entries
    assert entry["level"] == "info" and entry["logger"] == "bff.api.limits"
    assert entry["path"] == "/graphql"
    text = server.text()
    assert "Traceback" not in text and "Exception in ASGI application" not in text


def _hold(server: Served) -> tuple[socket.socket, bytes]:
    """A connection whose POST the app has started on (it asked for the body with
    ``100 Continue``) and whose body never comes; or the refusal it got instead."""
    sock = _open(server)
    sock.sendall(
        b"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"content-length: 100\r\nexpect: 100-continue\r\n\r\n"
    )
    return sock, sock.recv(65536)


def test_connections_past_max_connections_get_503_and_the_server_recovers(
    server: Served,
) -> None:
    refused_before = server.text().count("Exceeded concurrency limit")
    held = [_hold(server) for _ in range(MAX_CONNECTIONS + 2)]
    try:
        firsts = [answer.split(b"\r\n", 1)[0] for _, answer in held]
    finally:
        for sock, _ in held:
            sock.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.05)
    refused = server.text().count("Exceeded concurrency limit") - refused_before
    served = [b"HTTP/1.1 100 Continue"] * MAX_CONNECTIONS
    assert firsts == served + [b"HTTP/1.1 503 Service Unavailable"] * 2
    assert refused == 2


class _WebSocket:
    """A graphql-transport-ws client over a plain socket, framed by websockets' sans-I/O
    protocol. Unlike a full client it keeps reading after a failed send, so the server's
    close frame is seen even when the server hangs up while the client is still sending."""

    def __init__(self, port: int) -> None:
        self.protocol = ClientProtocol(
            parse_uri(f"ws://127.0.0.1:{port}/graphql"),
            subprotocols=[Subprotocol("graphql-transport-ws")],
            max_size=None,
        )
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        while self.protocol.state is State.CONNECTING:
            self._pump()
        assert self.protocol.state is State.OPEN, self.protocol.handshake_exc
        self.protocol.send_text(json.dumps({"type": "connection_init", "payload": {}}).encode())
        self._flush()
        frames: list[Frame] = []
        while not frames:
            frames = [e for e in self._pump() if isinstance(e, Frame)]
        assert json.loads(frames[0].data)["type"] == "connection_ack"

    def _flush(self) -> None:
        self.sock.sendall(b"".join(self.protocol.data_to_send()))

    def _pump(self) -> list[object]:
        data = self.sock.recv(65536)
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        return list(self.protocol.events_received())

    def send_big(self, text: bytes, fragment: int | None) -> threading.Thread:
        """Start sending ``text`` as one frame, or in frames of ``fragment`` bytes."""
        if fragment is None:
            self.protocol.send_text(text)
        else:
            pieces = [text[i : i + fragment] for i in range(0, len(text), fragment)]
            self.protocol.send_text(pieces[0], fin=False)
            for piece in pieces[1:-1]:
                self.protocol.send_continuation(piece, fin=False)
            self.protocol.send_continuation(pieces[-1], fin=True)
        wire = b"".join(self.protocol.data_to_send())

        def send() -> None:
            with suppress(OSError):  # the server may hang up before it has all of it
                self.sock.sendall(wire)

        sender = threading.Thread(target=send)
        sender.start()
        return sender

    def close_code(self) -> int | None:
        """Read until the server's close frame (or the end of the connection)."""
        while self.protocol.close_rcvd is None and self.protocol.state is not State.CLOSED:
            self._pump()
        return None if self.protocol.close_rcvd is None else self.protocol.close_rcvd.code


@pytest.mark.parametrize("fragment", [None, FRAME_LIMIT // 2], ids=["one-frame", "fragments"])
def test_a_websocket_message_over_the_limit_is_refused_with_1009(
    server: Served, fragment: int | None
) -> None:
    """A frame's header announces its size, and fragments add up: a 15 MB message is
    refused before it is buffered, and the event loop keeps answering other clients
    while it arrives."""
    before = server.rss_mb()
    query = "{ health { status } }" + " " * 15_000_000
    text = json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}).encode()
    ws = _WebSocket(server.port)
    try:
        with httpx.Client(timeout=1) as client:
            started = time.monotonic()
            sender = ws.send_big(text, fragment)
            latencies = []
            while True:  # at least once, and for as long as the message is on its way
                probed = time.monotonic()
                assert client.get(f"{server.url}/healthz").status_code == 200
                latencies.append(time.monotonic() - probed)
                if not sender.is_alive():
                    break
            code = ws.close_code()
            refused_in = time.monotonic() - started
            sender.join(timeout=15)
    finally:
        ws.sock.close()
    assert code == 1009
    assert max(latencies) < 1, latencies
    assert refused_in < 5
    assert server.rss_mb() - before < 50
    assert _health_latency(server) < 1
