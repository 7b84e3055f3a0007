"""RTCP packets and compound packets.

RFC 3550 section 6.4-6.7 (SR, RR, report blocks, SDES, BYE, APP), RFC 4585 section 6 (the RTPFB
and PSFB feedback formats: generic NACK and PLI), RFC 5104 section 4.3.1 (FIR),
draft-alvestrand-rmcat-remb (REMB, an application-layer PSFB) and
draft-holmer-rmcat-transport-wide-cc-extensions section 3.1 (transport-wide congestion control
feedback). ``parse_rtcp`` reads a compound packet; ``serialize_rtcp`` writes one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TypeAlias

from rtcpeer.rtp.packet import ParseError

__all__ = [
    "App",
    "Bye",
    "Fir",
    "Nack",
    "Pli",
    "ReceiverReport",
    "Remb",
    "ReportBlock",
    "RtcpPacket",
    "RtcpUnknown",
    "SdesChunk",
    "SenderReport",
    "SourceDescription",
    "TransportCc",
    "parse_rtcp",
    "serialize_rtcp",
]

PT_SR = 200
PT_RR = 201
PT_SDES = 202
PT_BYE = 203
PT_APP = 204
PT_RTPFB = 205
PT_PSFB = 206

SDES_CNAME = 1

_HDR = struct.Struct("!BBH")
_II = struct.Struct("!II")
_REPORT = struct.Struct("!IIIIII")
_SR_INFO = struct.Struct("!IQIII")


@dataclass(slots=True)
class ReportBlock:
    ssrc: int
    fraction_lost: int = 0  # 0..255, fraction of 256
    packets_lost: int = 0  # cumulative, signed 24-bit
    highest_sequence: int = 0  # extended highest sequence number received
    jitter: int = 0
    lsr: int = 0  # middle 32 bits of the last SR's NTP timestamp
    dlsr: int = 0  # delay since that SR, 1/65536 s

    def _write(self, out: bytearray) -> None:
        lost = self.packets_lost & 0xFFFFFF
        out += _REPORT.pack(
            self.ssrc,
            (self.fraction_lost << 24) | lost,
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )

    @classmethod
    def _read(cls, view: memoryview, pos: int) -> ReportBlock:
        ssrc, fl, high, jitter, lsr, dlsr = _REPORT.unpack_from(view, pos)
        lost = fl & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        return cls(ssrc, fl >> 24, lost, high, jitter, lsr, dlsr)


@dataclass(slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int = 0  # 64-bit NTP: seconds << 32 | fraction
    rtp_timestamp: int = 0
    packet_count: int = 0
    octet_count: int = 0
    reports: list[ReportBlock] = field(default_factory=list)
    profile_extension: bytes = b""


@dataclass(slots=True)
class ReceiverReport:
    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)
    profile_extension: bytes = b""


@dataclass(slots=True)
class SdesChunk:
    ssrc: int
    items: list[tuple[int, bytes]] = field(default_factory=list)  # (item type, value)


@dataclass(slots=True)
class SourceDescription:
    chunks: list[SdesChunk] = field(default_factory=list)


@dataclass(slots=True)
class Bye:
    ssrcs: list[int] = field(default_factory=list)
    reason: bytes | None = None


@dataclass(slots=True)
class App:
    subtype: int
    ssrc: int
    name: bytes  # 4 ASCII bytes
    data: bytes = b""  # a multiple of 4 bytes


@dataclass(slots=True)
class Nack:
    """RFC 4585 6.2.1 generic NACK; ``lost`` lists sequence numbers in FCI order."""

    sender_ssrc: int
    media_ssrc: int
    lost: list[int] = field(default_factory=list)


@dataclass(slots=True)
class TransportCc:
    """Transport-wide feedback. ``statuses`` has one symbol per packet from ``base_sequence``:
    0 not received, 1 received with a small delta (0..255 ticks), 2 received with a large or
    negative delta (signed 16-bit ticks). ``deltas`` has one entry per received packet, in ticks
    of 250 us; ``reference_time`` is in units of 64 ms (signed 24-bit)."""

    sender_ssrc: int
    media_ssrc: int
    base_sequence: int = 0
    reference_time: int = 0
    feedback_count: int = 0
    statuses: list[int] = field(default_factory=list)
    deltas: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Pli:
    sender_ssrc: int
    media_ssrc: int


@dataclass(slots=True)
class Fir:
    sender_ssrc: int
    media_ssrc: int = 0
    entries: list[tuple[int, int]] = field(default_factory=list)  # (ssrc, command seq nr)


@dataclass(slots=True)
class Remb:
    sender_ssrc: int
    bitrate: int  # bits per second
    ssrcs: list[int] = field(default_factory=list)


@dataclass(slots=True)
class RtcpUnknown:
    """A packet type (or feedback format) rtcpeer does not interpret, kept verbatim."""

    packet_type: int
    count: int
    payload: bytes


RtcpPacket: TypeAlias = (
    SenderReport
    | ReceiverReport
    | SourceDescription
    | Bye
    | App
    | Nack
    | TransportCc
    | Pli
    | Fir
    | Remb
    | RtcpUnknown
)


# ---------------------------------------------------------------- parsing


def parse_rtcp(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """Parse a compound RTCP packet. Raises only ParseError."""
    view = memoryview(data)
    n = len(view)
    if n < 4:
        raise ParseError(f"RTCP packet of {n} bytes is shorter than a header")
    out: list[RtcpPacket] = []
    pos = 0
    while pos < n:
        if pos + 4 > n:
            raise ParseError("truncated RTCP header")
        b0, pt, words = _HDR.unpack_from(view, pos)
        if b0 >> 6 != 2:
            raise ParseError(f"RTCP version {b0 >> 6}, expected 2")
        end = pos + 4 + 4 * words
        if end > n:
            raise ParseError(f"RTCP packet type {pt} of {words} words overruns the datagram")
        body_end = end
        if b0 & 0x20:
            pad = view[end - 1]
            if pad == 0 or pad > 4 * words:
                raise ParseError(f"RTCP padding count {pad} is invalid")
            body_end = end - pad
        out.append(_parse_one(view[pos + 4 : body_end], b0 & 0x1F, pt))
        pos = end
    return out


def _parse_one(body: memoryview, count: int, pt: int) -> RtcpPacket:
    n = len(body)
    if pt == PT_SR:
        if n < 24 + 24 * count:
            raise ParseError(f"SR with {count} reports is too short ({n} bytes)")
        ssrc, ntp, rtp_ts, pc, oc = _SR_INFO.unpack_from(body, 0)
        reports = [ReportBlock._read(body, 24 + 24 * i) for i in range(count)]
        return SenderReport(ssrc, ntp, rtp_ts, pc, oc, reports, bytes(body[24 + 24 * count :]))
    if pt == PT_RR:
        if n < 4 + 24 * count:
            raise ParseError(f"RR with {count} reports is too short ({n} bytes)")
        (ssrc,) = struct.unpack_from("!I", body, 0)
        reports = [ReportBlock._read(body, 4 + 24 * i) for i in range(count)]
        return ReceiverReport(ssrc, reports, bytes(body[4 + 24 * count :]))
    if pt == PT_SDES:
        return _parse_sdes(body, count)
    if pt == PT_BYE:
        if n < 4 * count:
            raise ParseError("BYE too short for its SSRC count")
        ssrcs = list(struct.unpack_from(f"!{count}I", body, 0))
        reason = None
        pos = 4 * count
        if pos < n:
            length = body[pos]
            if pos + 1 + length > n:
                raise ParseError("BYE reason overruns the packet")
            reason = bytes(body[pos + 1 : pos + 1 + length])
        return Bye(ssrcs, reason)
    if pt == PT_APP:
        if n < 8:
            raise ParseError("APP too short")
        (ssrc,) = struct.unpack_from("!I", body, 0)
        return App(count, ssrc, bytes(body[4:8]), bytes(body[8:]))
    if pt == PT_RTPFB or pt == PT_PSFB:
        if n < 8:
            raise ParseError("feedback packet too short")
        sender, media = _II.unpack_from(body, 0)
        fci = body[8:]
        if pt == PT_RTPFB:
            if count == 1:
                return Nack(sender, media, _parse_nack(fci))
            if count == 15:
                return _parse_transport_cc(sender, media, fci)
        else:
            if count == 1:
                return Pli(sender, media)
            if count == 4:
                if len(fci) % 8:
                    raise ParseError("FIR entries are 8 bytes each")
                entries = [
                    (ssrc, (word >> 24) & 0xFF) for ssrc, word in struct.iter_unpack("!II", fci)
                ]
                return Fir(sender, media, entries)
            if count == 15 and len(fci) >= 4 and bytes(fci[:4]) == b"REMB":
                return _parse_remb(sender, fci)
    return RtcpUnknown(pt, count, bytes(body))


def _parse_sdes(body: memoryview, count: int) -> SourceDescription:
    chunks: list[SdesChunk] = []
    pos = 0
    n = len(body)
    for _ in range(count):
        if pos + 4 > n:
            raise ParseError("SDES chunk overruns the packet")
        (ssrc,) = struct.unpack_from("!I", body, pos)
        pos += 4
        items: list[tuple[int, bytes]] = []
        while True:
            if pos >= n:
                raise ParseError("SDES chunk is not terminated")
            kind = body[pos]
            if kind == 0:
                pos = (pos + 4) & ~3  # the null item plus padding to a word boundary
                break
            if pos + 2 > n:
                raise ParseError("SDES item header overruns the packet")
            length = body[pos + 1]
            if pos + 2 + length > n:
                raise ParseError("SDES item overruns the packet")
            items.append((kind, bytes(body[pos + 2 : pos + 2 + length])))
            pos += 2 + length
        chunks.append(SdesChunk(ssrc, items))
    return SourceDescription(chunks)


def _parse_nack(fci: memoryview) -> list[int]:
    if len(fci) % 4:
        raise ParseError("NACK FCI is a multiple of 4 bytes")
    lost: list[int] = []
    for pid, blp in struct.iter_unpack("!HH", fci):
        lost.append(pid)
        for bit in range(16):
            if blp & (1 << bit):
                lost.append((pid + bit + 1) & 0xFFFF)
    return lost


def _parse_remb(sender: int, fci: memoryview) -> Remb:
    if len(fci) < 8:
        raise ParseError("REMB too short")
    num = fci[4]
    word = int.from_bytes(fci[5:8], "big")
    exp = word >> 18
    mantissa = word & 0x3FFFF
    if len(fci) < 8 + 4 * num:
        raise ParseError("REMB SSRC list overruns the packet")
    ssrcs = list(struct.unpack_from(f"!{num}I", fci, 8))
    return Remb(sender, mantissa << exp, ssrcs)


def _parse_transport_cc(sender: int, media: int, fci: memoryview) -> TransportCc:
    n = len(fci)
    if n < 8:
        raise ParseError("transport-cc feedback too short")
    base, count = struct.unpack_from("!HH", fci, 0)
    ref = int.from_bytes(fci[4:7], "big")
    if ref & 0x800000:
        ref -= 0x1000000
    fb_count = fci[7]
    pos = 8
    statuses: list[int] = []
    while len(statuses) < count:
        if pos + 2 > n:
            raise ParseError("transport-cc packet chunks overrun the packet")
        chunk = (fci[pos] << 8) | fci[pos + 1]
        pos += 2
        if chunk & 0x8000 == 0:  # run length chunk
            symbol = (chunk >> 13) & 0x3
            statuses.extend([symbol] * (chunk & 0x1FFF))
        elif chunk & 0x4000 == 0:  # status vector, 14 one-bit symbols
            statuses.extend((chunk >> (13 - i)) & 1 for i in range(14))
        else:  # status vector, 7 two-bit symbols
            statuses.extend((chunk >> (12 - 2 * i)) & 3 for i in range(7))
    del statuses[count:]
    deltas: list[int] = []
    for s in statuses:
        if s == 1:
            if pos >= n:
                raise ParseError("transport-cc receive deltas overrun the packet")
            deltas.append(fci[pos])
            pos += 1
        elif s == 2:
            if pos + 2 > n:
                raise ParseError("transport-cc receive deltas overrun the packet")
            deltas.append(int.from_bytes(fci[pos : pos + 2], "big", signed=True))
            pos += 2
        elif s == 3:
            raise ParseError("transport-cc status symbol 3 is reserved")
    return TransportCc(sender, media, base, ref, fb_count, statuses, deltas)


# ---------------------------------------------------------------- writing


def serialize_rtcp(packets: list[RtcpPacket]) -> bytes:
    out = bytearray()
    for p in packets:
        _write_one(p, out)
    return bytes(out)


def _frame(out: bytearray, count: int, pt: int, body: bytes | bytearray) -> None:
    if count > 31:
        raise ValueError(f"RTCP count {count} does not fit 5 bits")
    pad = -len(body) % 4
    if pad:
        body = bytes(body) + bytes(pad - 1) + bytes((pad,))
    out += _HDR.pack(0x80 | (0x20 if pad else 0) | count, pt, len(body) // 4)
    out += body


def _write_one(p: RtcpPacket, out: bytearray) -> None:
    body = bytearray()
    if isinstance(p, SenderReport):
        body += _SR_INFO.pack(
            p.ssrc, p.ntp_timestamp, p.rtp_timestamp, p.packet_count, p.octet_count
        )
        for r in p.reports:
            r._write(body)
        body += p.profile_extension
        _frame(out, len(p.reports), PT_SR, body)
    elif isinstance(p, ReceiverReport):
        body += struct.pack("!I", p.ssrc)
        for r in p.reports:
            r._write(body)
        body += p.profile_extension
        _frame(out, len(p.reports), PT_RR, body)
    elif isinstance(p, SourceDescription):
        for chunk in p.chunks:
            body += struct.pack("!I", chunk.ssrc)
            for kind, value in chunk.items:
                body += bytes((kind, len(value)))
                body += value
            body += bytes(4 - len(body) % 4)  # null item and padding: at least one zero byte
        _frame(out, len(p.chunks), PT_SDES, body)
    elif isinstance(p, Bye):
        for s in p.ssrcs:
            body += struct.pack("!I", s)
        if p.reason is not None:
            body.append(len(p.reason))
            body += p.reason
            body += bytes(-len(body) % 4)
        _frame(out, len(p.ssrcs), PT_BYE, body)
    elif isinstance(p, App):
        body += struct.pack("!I", p.ssrc) + p.name + p.data
        _frame(out, p.subtype, PT_APP, body)
    elif isinstance(p, Nack):
        body += _II.pack(p.sender_ssrc, p.media_ssrc)
        _write_nack(p.lost, body)
        _frame(out, 1, PT_RTPFB, body)
    elif isinstance(p, TransportCc):
        body += _II.pack(p.sender_ssrc, p.media_ssrc)
        _write_transport_cc(p, body)
        _frame(out, 15, PT_RTPFB, body)
    elif isinstance(p, Pli):
        _frame(out, 1, PT_PSFB, _II.pack(p.sender_ssrc, p.media_ssrc))
    elif isinstance(p, Fir):
        body += _II.pack(p.sender_ssrc, p.media_ssrc)
        for ssrc, seq in p.entries:
            body += _II.pack(ssrc, (seq & 0xFF) << 24)
        _frame(out, 4, PT_PSFB, body)
    elif isinstance(p, Remb):
        body += _II.pack(p.sender_ssrc, 0) + b"REMB"
        mantissa, exp = p.bitrate, 0
        while mantissa >= 1 << 18:
            mantissa >>= 1
            exp += 1
        body += bytes((len(p.ssrcs),)) + ((exp << 18) | mantissa).to_bytes(3, "big")
        for s in p.ssrcs:
            body += struct.pack("!I", s)
        _frame(out, 15, PT_PSFB, body)
    else:
        _frame(out, p.count, p.packet_type, p.payload)


def _write_nack(lost: list[int], body: bytearray) -> None:
    i = 0
    while i < len(lost):
        pid = lost[i]
        blp = 0
        i += 1
        while i < len(lost):
            off = (lost[i] - pid) & 0xFFFF
            if not 1 <= off <= 16:
                break
            blp |= 1 << (off - 1)
            i += 1
        body += struct.pack("!HH", pid, blp)


def _write_transport_cc(p: TransportCc, body: bytearray) -> None:
    st = p.statuses
    body += struct.pack("!HH", p.base_sequence, len(st))
    body += (p.reference_time & 0xFFFFFF).to_bytes(3, "big") + bytes((p.feedback_count & 0xFF,))
    i = 0
    n = len(st)
    while i < n:
        run = 1
        while i + run < n and st[i + run] == st[i] and run < 0x1FFF:
            run += 1
        if run >= 14 or i + run == n:
            body += struct.pack("!H", (st[i] << 13) | run)
            i += run
        elif all(s < 2 for s in st[i : i + 14]):
            chunk = 0x8000
            for k, s in enumerate(st[i : i + 14]):
                chunk |= s << (13 - k)
            body += struct.pack("!H", chunk)
            i += 14
        else:
            chunk = 0xC000
            for k, s in enumerate(st[i : i + 7]):
                chunk |= s << (12 - 2 * k)
            body += struct.pack("!H", chunk)
            i += 7
    for s, d in zip((s for s in st if s in (1, 2)), p.deltas, strict=False):
        if s == 1:
            body.append(d & 0xFF)
        else:
            body += struct.pack("!h", d)
