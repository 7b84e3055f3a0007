"""RFC 4571 framing of datagrams (STUN, DTLS, SRTP) over a TCP stream, as ICE-TCP uses it.

RFC 6544 section 3: every STUN message and application packet on an ICE TCP connection is
prefixed by a 16-bit big-endian length (RFC 4571 section 2). This is the sans-I/O decoder and
encoder; the asyncio shell feeds it stream bytes. (TURN over TCP/TLS frames differently:
:class:`rtcpeer.stun.channeldata.StreamFramer`.)
"""

from __future__ import annotations

MAX_FRAME = 0xFFFF


def frame(data: bytes | bytearray | memoryview) -> bytes:
    """Prefix ``data`` with its length. Raises ValueError above 65535 bytes."""
    n = len(data)
    if n > MAX_FRAME:
        raise ValueError(f"RFC 4571 frame of {n} bytes exceeds 65535")
    return n.to_bytes(2, "big") + bytes(data)


class Deframer:
    """Accumulates stream bytes and yields complete frames."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            n = (buf[pos] << 8) | buf[pos + 1]
            if end - pos - 2 < n:
                break
            out.append(bytes(buf[pos + 2 : pos + 2 + n]))
            pos += 2 + n
        if pos:
            del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame (at most 65537)."""
        return len(self._buf)
