"""VP8 RTP payload format (RFC 7741 section 4): payload descriptor with a 15-bit picture ID.

Outgoing packets carry X=1, I=1 and M=1 (15-bit PictureID); the first packet of a frame has
S=1 and PID=0. Incoming descriptors of every legal shape (7- or 15-bit PictureID, TL0PICIDX,
TID/KEYIDX) are accepted.
"""

from __future__ import annotations

from rtcpeer.rtp.packet import ParseError

__all__ = ["Vp8Depayloader", "Vp8Payloader", "parse_descriptor"]


def parse_descriptor(payload: bytes) -> tuple[int, bool, int, int | None]:
    """Returns (descriptor length, start of partition, partition index, picture id or None)."""
    n = len(payload)
    if n < 1:
        raise ParseError("empty VP8 payload")
    b0 = payload[0]
    pos = 1
    picture_id: int | None = None
    if b0 & 0x80:
        if n < 2:
            raise ParseError("VP8 extension byte missing")
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id
            if pos >= n:
                raise ParseError("VP8 picture id missing")
            if payload[pos] & 0x80:
                if pos + 2 > n:
                    raise ParseError("VP8 15-bit picture id truncated")
                picture_id = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
                pos += 2
            else:
                picture_id = payload[pos]
                pos += 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX byte
            pos += 1
        if pos > n:
            raise ParseError("VP8 payload descriptor truncated")
    return pos, bool(b0 & 0x10), b0 & 0x07, picture_id


class Vp8Payloader:
    def __init__(self, picture_id: int = 0) -> None:
        self.picture_id = picture_id & 0x7FFF

    def packetize(self, frame: bytes, max_size: int) -> list[bytes]:
        pid = self.picture_id
        self.picture_id = (pid + 1) & 0x7FFF
        tail = bytes((0x80, 0x80 | (pid >> 8), pid & 0xFF))
        room = max_size - 4
        if room < 1:
            raise ValueError(f"max_size {max_size} leaves no room for VP8 data")
        view = memoryview(frame)
        out: list[bytes] = []
        for start in range(0, max(len(frame), 1), room):
            first = 0x90 if start == 0 else 0x80
            out.append(bytes((first,)) + tail + view[start : start + room])
        return out


class Vp8Depayloader:
    def depacketize(self, payloads: list[bytes]) -> bytes:
        parts: list[bytes] = []
        for i, payload in enumerate(payloads):
            pos, start, partition, _ = parse_descriptor(payload)
            if i == 0 and not (start and partition == 0):
                raise ParseError("VP8 frame does not begin with the start of partition 0")
            parts.append(payload[pos:])
        frame = b"".join(parts)
        if not frame:
            raise ParseError("empty VP8 frame")
        return frame

    def is_keyframe(self, payload: bytes) -> bool:
        try:
            pos, start, partition, _ = parse_descriptor(payload)
        except ParseError:
            return False
        # RFC 7741 section 4.3: the P bit (bit 0 of the first frame byte) is 0 on key frames.
        return start and partition == 0 and pos < len(payload) and not payload[pos] & 0x01
