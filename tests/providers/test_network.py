"""The upstream sockets (bff/providers/_network.py): one timer per connection instead of a
cancel scope per read, with the read timeout kept, over plain TCP and over TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpcore2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bff.exceptions import ProviderTimeoutError
from bff.providers._network import IdleTimedBackend, IdleTimedStream, upstream_client
from bff.providers.openai import OpenAIProvider, Timeouts
from bff.testing.server import SimulatorServer
from tests.providers.helpers import assemble, request

pytestmark = pytest.mark.anyio


PROVIDER_TIMEOUTS = Timeouts(connect=1, read=0.3)  # for the provider fixture (conftest.py)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """Every anyio.fail_after opened from now on (httpcore2 opens one per read)."""
    opened: list[float | None] = []
    real = anyio.fail_after

    def counting(delay: float | None, shield: bool = False) -> Any:
        opened.append(delay)
        return real(delay, shield)

    monkeypatch.setattr(anyio, "fail_after", counting)
    return opened


async def test_the_provider_reads_through_the_idle_timed_sockets(
    sim: SimulatorServer, provider: OpenAIProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = upstream_client()
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool._network_backend, IdleTimedBackend)
    await client.aclose()

    sim.simulator.add({"content": "warm"})
    await assemble(provider, request())  # the connection is open and pooled
    opened = _counting(monkeypatch)
    reads = 0
    real_read = IdleTimedStream.read

    async def counted_read(
        self: IdleTimedStream,
        max_bytes: int,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> bytes:
        nonlocal reads
        reads += 1
        return await real_read(self, max_bytes, timeout)

    monkeypatch.setattr(IdleTimedStream, "read", counted_read)
    for words in (10, 100):
        opened.clear()
        reads = 0
        # A chunk every 2 ms: each arrives in a read of its own.
        sim.simulator.add({"content": "word " * words, "chunk_delay_s": 0.002})
        assembled = await assemble(provider, request())
        assert assembled.text == "word " * words and reads > words // 5
        # The request's writes are timed; no read opens a scope, however many chunks.
        assert len(opened) <= 2, opened


# The server runs on uvloop: the timer must end a stalled read on both loops.
both_loops = pytest.mark.parametrize(
    "anyio_backend", ["asyncio", ("asyncio", {"use_uvloop": True})], ids=["asyncio", "uvloop"]
)


@both_loops
async def test_a_stream_slower_in_all_than_the_read_timeout_is_not_cut(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    # Gaps of 0.1 s under a read timeout of 0.3 s, 0.8 s in all: the deadline moves on.
    sim.simulator.add({"content": "one two three four five six seven", "chunk_delay_s": 0.1})
    assembled = await assemble(provider, request())
    assert assembled.text == "one two three four five six seven"


@both_loops
async def test_a_stall_mid_stream_ends_in_a_timeout_and_the_next_call_works(
    sim: SimulatorServer, provider: OpenAIProvider
) -> None:
    sim.simulator.add({"fault": "stall", "stall_s": 5, "fault_after_chunks": 3})
    with pytest.raises(ProviderTimeoutError):
        await assemble(provider, request())
    sim.simulator.add({"content": "after"})
    assert (await assemble(provider, request())).text == "after"


def _certificate(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for 127.0.0.1: the server's context and a client's that
    trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]


async def _chunks(writer: asyncio.StreamWriter, parts: list[bytes], stall: bool) -> None:
    """A chunked HTTP/1.1 reply of ``parts``, each flushed on its own; with ``stall`` it
    stops before its end and waits."""
    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    for part in parts:
        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        await writer.drain()
        await asyncio.sleep(0.001)
    if stall:
        await asyncio.sleep(5)
    writer.write(b"0\r\n\r\n")
    await writer.drain()


@pytest.fixture
async def tls_server(tmp_path: Path) -> AsyncIterator[tuple[int, ssl.SSLContext]]:
    server_context, client_context = _certificate(tmp_path)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            stall = head.startswith(b"GET /stall")
            await _chunks(writer, [b"part %d;" % i for i in range(50)], stall)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    yield port, client_context
    server.close()


@both_loops
async def test_over_tls_reads_arrive_and_a_stall_times_out(
    tls_server: tuple[int, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, client_context = tls_server
    timeouts = {"connect": 2.0, "read": 0.3, "write": 2.0, "pool": 2.0}
    async with httpcore2.AsyncConnectionPool(
        ssl_context=client_context, network_backend=IdleTimedBackend()
    ) as pool:
        url = f"https://127.0.0.1:{port}/stream"
        first = await pool.request("GET", url, extensions={"timeout": timeouts})
        assert first.content == b"".join(b"part %d;" % i for i in range(50))
        stream = first.extensions["network_stream"]
        assert isinstance(stream, IdleTimedStream)
        assert stream.get_extra_info("ssl_object") is not None
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)

        opened = _counting(monkeypatch)  # the TLS connection is reused: no new handshake
        again = await pool.request("GET", url, extensions={"timeout": timeouts})
        assert again.content == first.content and len(opened) <= 2, opened

        with pytest.raises(httpcore2.ReadTimeout):
            await pool.request(
                "GET", f"https://127.0.0.1:{port}/stall", extensions={"timeout": timeouts}
            )
