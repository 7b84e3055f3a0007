"""RTP packets: the fixed header, CSRCs, padding and header extensions.

Implements RFC 3550 section 5.1 (fixed header), 5.3.1 (header extension) and RFC 8285 (one-byte
and two-byte extension elements), plus the payload of the extensions WebRTC uses: the MID
(RFC 8843 section 15), abs-send-time (webrtc.org "abs-send-time", a 24-bit 6.18 fixed-point
NTP fraction) and the transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-
extensions section 2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = [
    "EXT_ABS_SEND_TIME",
    "EXT_AUDIO_LEVEL",
    "EXT_MID",
    "EXT_REPAIRED_RID",
    "EXT_RID",
    "EXT_TRANSPORT_CC",
    "ParseError",
    "RtpPacket",
    "decode_abs_send_time",
    "decode_transport_cc_seq",
    "encode_abs_send_time",
    "encode_transport_cc_seq",
    "is_rtcp",
    "seq_gt",
    "seq_diff",
]

EXT_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
EXT_RID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
EXT_REPAIRED_RID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
EXT_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
EXT_TRANSPORT_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
# RFC 6464 client-to-mixer audio level: one byte, V flag (voice activity) and -dBov (0..127).
EXT_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

_HEADER = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")
_ONE_BYTE_PROFILE = 0xBEDE
_TWO_BYTE_PROFILE = 0x1000  # upper 12 bits; the low 4 bits are "appbits" (RFC 8285 4.3)


class ParseError(ValueError):
    """The one error rtcpeer.rtp's parsers raise for malformed RTP, RTCP or payloads."""


def is_rtcp(data: bytes | bytearray | memoryview) -> bool:
    """RFC 5761 section 4: RTCP packet types 192-223 occupy the second byte of a muxed packet."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def seq_diff(a: int, b: int) -> int:
    """Signed distance a - b between two 16-bit sequence numbers, in -32768..32767."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def seq_gt(a: int, b: int) -> bool:
    return seq_diff(a, b) > 0


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet. ``extensions`` maps RFC 8285 local ids to element payloads.

    ``extension_profile`` is 0 for "use RFC 8285" (the writer then picks the one-byte form when
    every element fits and the two-byte form otherwise); a non-RFC 8285 profile keeps its raw
    ``extension_data`` instead.
    """

    payload_type: int = 0
    sequence_number: int = 0
    timestamp: int = 0
    ssrc: int = 0
    payload: bytes = b""
    marker: bool = False
    csrcs: list[int] = field(default_factory=list)
    extensions: dict[int, bytes] = field(default_factory=dict)
    extension_profile: int = 0
    extension_data: bytes = b""
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> RtpPacket:
        view = memoryview(data)
        n = len(view)
        if n < 12:
            raise ParseError(f"RTP packet of {n} bytes is shorter than the 12-byte header")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(view, 0)
        if b0 >> 6 != 2:
            raise ParseError(f"RTP version {b0 >> 6}, expected 2")
        cc = b0 & 0x0F
        pos = 12 + 4 * cc
        if pos > n:
            raise ParseError(f"{cc} CSRCs overrun a {n}-byte packet")
        csrcs = list(struct.unpack_from(f"!{cc}I", view, 12)) if cc else []
        extensions: dict[int, bytes] = {}
        profile = 0
        ext_data = b""
        if b0 & 0x10:
            if pos + 4 > n:
                raise ParseError("header extension overruns the packet")
            profile, words = _EXT_HEADER.unpack_from(view, pos)
            pos += 4
            end = pos + 4 * words
            if end > n:
                raise ParseError(f"header extension of {words} words overruns the packet")
            if profile == _ONE_BYTE_PROFILE:
                _parse_one_byte(view, pos, end, extensions)
                profile = 0
            elif profile & 0xFFF0 == _TWO_BYTE_PROFILE:
                _parse_two_byte(view, pos, end, extensions)
                profile = 0
            elif profile:
                ext_data = bytes(view[pos:end])
            # profile 0 is no profile at all: the block is skipped
            pos = end
        end = n
        padding = 0
        if b0 & 0x20:
            padding = view[n - 1]
            if padding == 0 or pos + padding > n:
                raise ParseError(f"padding count {padding} is invalid for a {n}-byte packet")
            end = n - padding
        return cls(
            payload_type=b1 & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=bytes(view[pos:end]),
            marker=bool(b1 & 0x80),
            csrcs=csrcs,
            extensions=extensions,
            extension_profile=profile,
            extension_data=ext_data,
            padding=padding,
        )

    def serialize(self) -> bytes:
        ext = self._extension_block()
        cc = len(self.csrcs)
        b0 = 0x80 | cc | (0x10 if ext else 0) | (0x20 if self.padding else 0)
        b1 = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        parts = [_HEADER.pack(b0, b1, self.sequence_number, self.timestamp, self.ssrc)]
        if cc:
            parts.append(struct.pack(f"!{cc}I", *self.csrcs))
        if ext:
            parts.append(ext)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)

    def _extension_block(self) -> bytes:
        if self.extension_profile:
            data = self.extension_data
            if len(data) % 4:
                raise ValueError("raw extension_data must be a multiple of 4 bytes")
            return _EXT_HEADER.pack(self.extension_profile, len(data) // 4) + data
        if not self.extensions:
            return b""
        items = sorted(self.extensions.items())
        one_byte = all(1 <= i <= 14 and 1 <= len(v) <= 16 for i, v in items)
        body = bytearray()
        if one_byte:
            for i, v in items:
                body.append((i << 4) | (len(v) - 1))
                body += v
            profile = _ONE_BYTE_PROFILE
        else:
            for i, v in items:
                if not 1 <= i <= 255 or len(v) > 255:
                    raise ValueError(f"extension id {i} / length {len(v)} does not fit RFC 8285")
                body.append(i)
                body.append(len(v))
                body += v
            profile = _TWO_BYTE_PROFILE
        body += bytes(-len(body) % 4)
        return _EXT_HEADER.pack(profile, len(body) // 4) + bytes(body)


def _parse_one_byte(view: memoryview, pos: int, end: int, out: dict[int, bytes]) -> None:
    while pos < end:
        b = view[pos]
        if b == 0:  # padding between elements
            pos += 1
            continue
        ident = b >> 4
        if ident == 15 or ident == 0:
            # 15 is reserved (RFC 8285 section 4.2: stop processing); 0 with a non-zero length
            # is not padding and not an element either, so the rest cannot be trusted.
            return
        length = (b & 0x0F) + 1
        pos += 1
        if pos + length > end:
            raise ParseError(f"one-byte extension element {ident} overruns the block")
        out[ident] = bytes(view[pos : pos + length])
        pos += length


def _parse_two_byte(view: memoryview, pos: int, end: int, out: dict[int, bytes]) -> None:
    while pos < end:
        ident = view[pos]
        if ident == 0:
            pos += 1
            continue
        if pos + 2 > end:
            raise ParseError("two-byte extension element header overruns the block")
        length = view[pos + 1]
        pos += 2
        if pos + length > end:
            raise ParseError(f"two-byte extension element {ident} overruns the block")
        out[ident] = bytes(view[pos : pos + length])
        pos += length


def encode_abs_send_time(ntp_seconds: float) -> bytes:
    """24-bit 6.18 fixed point: the low 6 bits of seconds and 18 bits of fraction."""
    value = int(ntp_seconds * (1 << 18)) & 0xFFFFFF
    return value.to_bytes(3, "big")


def decode_abs_send_time(data: bytes) -> float:
    if len(data) != 3:
        raise ParseError(f"abs-send-time is 3 bytes, got {len(data)}")
    return int.from_bytes(data, "big") / (1 << 18)


def encode_transport_cc_seq(seq: int) -> bytes:
    return (seq & 0xFFFF).to_bytes(2, "big")


def decode_transport_cc_seq(data: bytes) -> int:
    if len(data) != 2:
        raise ParseError(f"transport-wide sequence number is 2 bytes, got {len(data)}")
    return int.from_bytes(data, "big")
