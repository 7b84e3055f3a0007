"""H.264 RTP payload format, packetization-mode 1 (RFC 6184 sections 5.6, 5.7.1, 5.8).

The payloader takes an Annex B byte stream (start codes) as produced by FFmpeg encoders and
emits single NAL unit packets, STAP-A aggregates of small NAL units, and FU-A fragments of large
ones. The depayloader returns an Annex B byte stream for the decoder.
"""

from __future__ import annotations

from rtcpeer.rtp.packet import ParseError

__all__ = ["H264Depayloader", "H264Payloader", "split_annexb"]

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
STAP_A = 24
FU_A = 28
_START = b"\x00\x00\x00\x01"


def split_annexb(stream: bytes) -> list[bytes]:
    """NAL units of an Annex B stream (3- or 4-byte start codes)."""
    out: list[bytes] = []
    n = len(stream)
    i = stream.find(b"\x00\x00\x01")
    if i < 0:
        return [stream] if stream else []
    i += 3
    while i < n:
        j = stream.find(b"\x00\x00\x01", i)
        if j < 0:
            out.append(stream[i:])
            break
        end = j - 1 if j > i and stream[j - 1] == 0 else j
        if end > i:
            out.append(stream[i:end])
        i = j + 3
    return out


class H264Payloader:
    def packetize(self, frame: bytes, max_size: int) -> list[bytes]:
        if max_size < 3:
            raise ValueError(f"max_size {max_size} is too small for H.264")
        out: list[bytes] = []
        pending: list[bytes] = []  # small NAL units waiting to be aggregated
        pending_size = 1

        def flush() -> None:
            nonlocal pending, pending_size
            if len(pending) == 1:
                out.append(pending[0])
            elif pending:
                nri = max(n[0] & 0x60 for n in pending)
                body = bytearray((nri | STAP_A,))
                for n in pending:
                    body += len(n).to_bytes(2, "big") + n
                out.append(bytes(body))
            pending = []
            pending_size = 1

        for nal in split_annexb(frame):
            if len(nal) > max_size:
                flush()
                header = nal[0]
                indicator = (header & 0xE0) | FU_A
                kind = header & 0x1F
                data = memoryview(nal)[1:]
                room = max_size - 2
                for start in range(0, len(data), room):
                    fu = kind
                    if start == 0:
                        fu |= 0x80
                    if start + room >= len(data):
                        fu |= 0x40
                    out.append(bytes((indicator, fu)) + data[start : start + room])
                continue
            if pending_size + 2 + len(nal) > max_size:
                flush()
            pending.append(nal)
            pending_size += 2 + len(nal)
        flush()
        return out


class H264Depayloader:
    def depacketize(self, payloads: list[bytes]) -> bytes:
        out = bytearray()
        fu: bytearray | None = None
        for p in payloads:
            if not p:
                raise ParseError("empty H.264 payload")
            kind = p[0] & 0x1F
            if kind == STAP_A:
                pos = 1
                while pos < len(p):
                    if pos + 2 > len(p):
                        raise ParseError("STAP-A size field truncated")
                    size = int.from_bytes(p[pos : pos + 2], "big")
                    pos += 2
                    if size == 0 or pos + size > len(p):
                        raise ParseError("STAP-A NAL unit overruns the packet")
                    out += _START + p[pos : pos + size]
                    pos += size
            elif kind == FU_A:
                if len(p) < 2:
                    raise ParseError("FU-A header truncated")
                fh = p[1]
                if fh & 0x80:
                    fu = bytearray(((p[0] & 0xE0) | (fh & 0x1F),))
                elif fu is None:
                    raise ParseError("FU-A continuation without a start fragment")
                fu += p[2:]
                if fh & 0x40:
                    out += _START + fu
                    fu = None
            elif 1 <= kind <= 23:
                out += _START + p
            else:
                raise ParseError(f"unsupported H.264 NAL unit type {kind} in mode 1")
        if fu is not None:
            raise ParseError("FU-A fragment without an end fragment")
        if not out:
            raise ParseError("empty H.264 access unit")
        return bytes(out)

    def is_keyframe(self, payload: bytes) -> bool:
        if not payload:
            return False
        kind = payload[0] & 0x1F
        if kind in (NAL_IDR, NAL_SPS):
            return True
        if kind == FU_A:
            return len(payload) > 1 and bool(payload[1] & 0x80) and payload[1] & 0x1F == NAL_IDR
        if kind == STAP_A:
            pos = 1
            while pos + 2 < len(payload):
                size = int.from_bytes(payload[pos : pos + 2], "big")
                if payload[pos + 2] & 0x1F in (NAL_IDR, NAL_SPS):
                    return True
                pos += 2 + size
        return False
