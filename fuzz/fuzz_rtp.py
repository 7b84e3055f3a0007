"""Fuzz target: RTP and RTCP parsing (``rtcpeer.rtp.packet``, ``rtcpeer.rtp.rtcp``).

The first input byte picks RTP (even) or compound RTCP (odd). Only the package's
``ParseError`` may escape; an RTP packet that parses serializes to bytes that parse to the
same header fields and payload. Skipped while the media package does not exist.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import _harness

_harness.require_atheris()

with _harness.instrument("rtcpeer.rtp"):
    try:
        from rtcpeer.rtp import packet as rtp_packet
        from rtcpeer.rtp import rtcp as rtp_rtcp
    except ImportError as exc:
        rtp_packet = rtp_rtcp = None
        _MISSING = str(exc)

_FIELDS = ("version", "padding", "marker", "payload_type", "sequence_number", "timestamp", "ssrc")


def seeds() -> Iterable[bytes]:
    # RTP: version 2, PT 111, seq 1, ts 960, ssrc 0x11223344, opus-ish payload
    yield b"\x00\x80\x6f\x00\x01\x00\x00\x03\xc0\x11\x22\x33\x44" + b"\xfc\xff\xfe"
    # RTP with a one-byte header extension (0xBEDE), one element id 1 len 1
    yield b"\x00\x90\x60\x00\x02\x00\x00\x00\x01\x00\x00\x00\x01\xbe\xde\x00\x01\x10\xaa\x00\x00"
    # RTCP: receiver report with no blocks + SDES CNAME
    yield (
        b"\x01\x80\xc9\x00\x01\x00\x00\x00\x01" + b"\x81\xca\x00\x03\x00\x00\x00\x01\x01\x03abc\x00"
    )
    # RTCP: generic NACK (PT 205 FMT 1) and PLI (PT 206 FMT 1)
    yield b"\x01\x81\xcd\x00\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x05\x00\x00"
    yield b"\x01\x81\xce\x00\x02\x00\x00\x00\x01\x00\x00\x00\x02"


def _fields(p: Any) -> tuple[Any, ...]:
    return tuple(getattr(p, f, None) for f in _FIELDS) + (bytes(getattr(p, "payload", b"")),)


def TestOneInput(data: bytes) -> None:
    assert rtp_packet is not None and rtp_rtcp is not None
    if not data:
        return
    payload = data[1:]
    if data[0] & 1 == 0:
        try:
            pkt = rtp_packet.RtpPacket.parse(payload)
        except rtp_packet.ParseError:
            return
        serialize = getattr(pkt, "serialize", None)
        if serialize is not None:
            again = rtp_packet.RtpPacket.parse(serialize())
            if _fields(again) != _fields(pkt) or again != pkt:
                raise AssertionError("RTP packet did not survive serialize/parse")
    else:
        try:
            packets = rtp_rtcp.parse_rtcp(payload)
        except rtp_packet.ParseError:
            return
        # whatever parses re-serializes; one serialize/parse pass normalizes (NACK lists are
        # regrouped into PID/BLP words), after which the bytes are stable
        once = rtp_rtcp.serialize_rtcp(packets)
        if rtp_rtcp.serialize_rtcp(rtp_rtcp.parse_rtcp(once)) != once:
            raise AssertionError("RTCP compound packet did not survive serialize/parse")


if __name__ == "__main__":
    if rtp_packet is None:
        _harness.skip(f"rtcpeer.rtp is not there yet ({_MISSING})")
    _harness.main(TestOneInput)
    sys.exit(0)
