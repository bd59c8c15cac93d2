"""Server-sent events from network reads, and the coalescing of what one read carried."""

from __future__ import annotations

from collections.abc import Iterable

from bff.providers._types import ProviderEvent, RefusalDelta, TextDelta, ToolCallDelta


class SSEDecoder:
    """Split network reads into the ``data`` of each event; comments and other fields drop."""

    def __init__(self) -> None:
        self._partial = b""
        self._data: list[bytes] = []

    def feed(self, raw: bytes) -> list[bytes]:
        lines = (self._partial + raw).split(b"\n")
        self._partial = lines.pop()
        return self._lines(lines)

    def flush(self) -> list[bytes]:
        """The events left when the body ends without a closing blank line."""
        lines, self._partial = [self._partial, b""], b""
        return self._lines(lines)

    def _lines(self, lines: list[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for line in lines:
            line = line.removesuffix(b"\r")
            if line.startswith(b"data:"):
                self._data.append(line[6:] if line.startswith(b"data: ") else line[5:])
            elif not line and self._data:
                out.append(b"\n".join(self._data))
                self._data = []
        return out


def coalesce(events: Iterable[ProviderEvent]) -> list[ProviderEvent]:
    """Merge adjacent fragments that arrived together into one event each.

    A backlogged stream delivers hundreds of chunks in one read; handing them
    on as one delta costs the parser one feed instead of hundreds.
    """
    out: list[ProviderEvent] = []
    for event in events:
        last = out[-1] if out else None
        if isinstance(event, TextDelta) and isinstance(last, TextDelta):
            out[-1] = TextDelta(last.text + event.text)
        elif isinstance(event, RefusalDelta) and isinstance(last, RefusalDelta):
            out[-1] = RefusalDelta(last.text + event.text)
        elif (
            isinstance(event, ToolCallDelta)
            and isinstance(last, ToolCallDelta)
            and event.index == last.index
            and event.id is None
            and event.name is None
        ):
            out[-1] = ToolCallDelta(
                last.index, last.id, last.name, last.arguments + event.arguments
            )
        else:
            out.append(event)
    return out
