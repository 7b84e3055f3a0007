"""Demultiplexing of STUN, DTLS, TURN ChannelData and RTP/RTCP on one port (RFC 7983 section 7).

The first byte of a datagram decides::

    [0..3]     -> STUN
    [16..19]   -> ZRTP (not used by WebRTC: "unknown")
    [20..63]   -> DTLS
    [64..79]   -> TURN ChannelData
    [128..191] -> RTP/RTCP
    otherwise  -> drop ("unknown")
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["Kind", "classify", "classify_datagram"]

Kind = Literal["stun", "dtls", "rtp", "turn-channel", "unknown"]


def _build_table() -> tuple[Kind, ...]:
    table: list[Kind] = []
    for b in range(256):
        if b <= 3:
            table.append("stun")
        elif 20 <= b <= 63:
            table.append("dtls")
        elif 64 <= b <= 79:
            table.append("turn-channel")
        elif 128 <= b <= 191:
            table.append("rtp")
        else:
            table.append("unknown")
    return tuple(table)


_TABLE: Final[tuple[Kind, ...]] = _build_table()


def classify(first_byte: int) -> Kind:
    """Kind of a datagram from its first byte (an int 0..255); out-of-range ints are "unknown"."""
    if 0 <= first_byte <= 255:
        return _TABLE[first_byte]
    return "unknown"


def classify_datagram(data: bytes | bytearray | memoryview) -> Kind:
    """Kind of a whole datagram; an empty datagram is "unknown"."""
    if not data:
        return "unknown"
    return _TABLE[data[0]]
