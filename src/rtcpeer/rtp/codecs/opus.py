"""Opus RTP payload format (RFC 7587): one Opus packet per RTP packet, no payload header."""

from __future__ import annotations

from rtcpeer.rtp.packet import ParseError

__all__ = ["OpusDepayloader", "OpusPayloader"]


class OpusPayloader:
    def packetize(self, frame: bytes, max_size: int) -> list[bytes]:
        # RFC 7587 section 4.2: an Opus packet is never fragmented.
        return [bytes(frame)]


class OpusDepayloader:
    def depacketize(self, payloads: list[bytes]) -> bytes:
        if len(payloads) != 1 or not payloads[0]:
            raise ParseError("an Opus frame is exactly one non-empty RTP payload")
        return payloads[0]

    def is_keyframe(self, payload: bytes) -> bool:
        return True
