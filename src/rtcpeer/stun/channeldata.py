"""TURN ChannelData messages and stream framing (RFC 8656 sections 12.4, 12.5, 12.6).

A ChannelData message is a 4-byte header (channel number 0x4000-0x4FFF, data length) and the
application data. Over UDP the padding is optional (we never add it, and accept it when
present); over TCP/TLS every ChannelData message is padded to a multiple of 4 bytes, so the
stream of STUN messages and ChannelData messages can be split without a length prefix:
:class:`StreamFramer` does that split.

Hot path helpers: :func:`encode_channel_data` builds one bytes object; :func:`parse_channel_data`
returns ``(channel, memoryview)`` without copying. Both framing errors raise
:class:`rtcpeer.stun.ParseError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rtcpeer.stun.attributes import MAGIC_COOKIE
from rtcpeer.stun.errors import ParseError

__all__ = [
    "CHANNEL_MAX",
    "CHANNEL_MIN",
    "ChannelData",
    "StreamFramer",
    "encode_channel_data",
    "is_channel_data",
    "parse_channel_data",
]

CHANNEL_MIN = 0x4000
CHANNEL_MAX = 0x4FFF
_HDR = struct.Struct("!HH")
_PAD = (b"", b"\x00\x00\x00", b"\x00\x00", b"\x00")


def is_channel_data(data: bytes | bytearray | memoryview) -> bool:
    """First byte 0x40-0x4F (RFC 7983 demultiplexing range of TURN channels)."""
    return len(data) >= 4 and 0x40 <= data[0] <= 0x4F


def encode_channel_data(
    channel: int, data: bytes | bytearray | memoryview, pad: bool = False
) -> bytes:
    """One ChannelData message; ``pad=True`` for stream transports."""
    if not CHANNEL_MIN <= channel <= CHANNEL_MAX:
        raise ValueError(f"channel number {channel:#x} outside 0x4000-0x4FFF")
    n = len(data)
    if n > 0xFFFF:
        raise ValueError("ChannelData payload too long")
    if pad:
        return b"".join((_HDR.pack(channel, n), data, _PAD[n & 3]))
    return b"".join((_HDR.pack(channel, n), data))


def parse_channel_data(data: bytes | bytearray | memoryview) -> tuple[int, memoryview]:
    """``(channel, payload view)``. Trailing bytes beyond length + 3 padding bytes are
    refused; up to 3 padding bytes are accepted."""
    n = len(data)
    if n < 4:
        raise ParseError("ChannelData shorter than its header")
    channel, length = _HDR.unpack_from(data, 0)
    if not CHANNEL_MIN <= channel <= CHANNEL_MAX:
        raise ParseError(f"channel number {channel:#x} outside 0x4000-0x4FFF")
    end = 4 + length
    if end > n or n - end > 3:
        raise ParseError("ChannelData length does not match the datagram")
    return channel, memoryview(data)[4:end]


@dataclass(frozen=True, slots=True)
class ChannelData:
    """A decoded ChannelData message (the allocation-friendly helpers above are faster)."""

    channel: int
    data: bytes

    def encode(self, pad: bool = False) -> bytes:
        return encode_channel_data(self.channel, self.data, pad)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> ChannelData:
        channel, payload = parse_channel_data(data)
        return cls(channel, bytes(payload))


class StreamFramer:
    """Splits a TCP/TLS byte stream into whole STUN and ChannelData messages
    (RFC 8656 section 12.6: ChannelData over streams is padded to 4 bytes).

    ``feed(data)`` returns the complete messages now available (each a ``bytes``; STUN
    messages exactly as framed, ChannelData messages including their padding). Raises
    :class:`ParseError` when the stream cannot be framed; the connection should be closed.
    """

    __slots__ = ("_buf", "max_message")

    def __init__(self, max_message: int = 0xFFFF + 20) -> None:
        self._buf = bytearray()
        self.max_message = max_message

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        off = 0
        n = len(buf)
        while n - off >= 4:
            first = buf[off]
            length = (buf[off + 2] << 8) | buf[off + 3]
            if first < 0x40:
                if first & 0xC0:
                    raise ParseError("not a STUN message")
                if n - off >= 8 and struct.unpack_from("!I", buf, off + 4)[0] != MAGIC_COOKIE:
                    raise ParseError("STUN message without magic cookie on a stream")
                if length & 3:
                    raise ParseError("STUN length not a multiple of 4")
                total = 20 + length
            elif first <= 0x4F:
                total = 4 + ((length + 3) & ~3)
            else:
                raise ParseError(f"byte {first:#x} starts neither STUN nor ChannelData")
            if total > self.max_message:
                raise ParseError("message too long")
            if n - off < total:
                break
            out.append(bytes(buf[off : off + total]))
            off += total
        if off:
            del buf[:off]
        return out
