"""RtpSenderCore and RtpReceiverCore on their own, with a fake clock and synthetic frames."""

from __future__ import annotations

import random

from rtcpeer.rtp.codecs import AUDIO_CODECS, VIDEO_CODECS
from rtcpeer.rtp.codecs.vp8 import Vp8Payloader
from rtcpeer.rtp.packet import (
    EXT_ABS_SEND_TIME,
    EXT_MID,
    EXT_TRANSPORT_CC,
    RtpPacket,
    decode_transport_cc_seq,
    is_rtcp,
)
from rtcpeer.rtp.receiver import RemoteBye, RtpReceiverCore
from rtcpeer.rtp.rtcp import (
    Bye,
    Fir,
    Nack,
    Pli,
    ReceiverReport,
    Remb,
    ReportBlock,
    SenderReport,
    SourceDescription,
    parse_rtcp,
    serialize_rtcp,
)
from rtcpeer.rtp.sender import BitrateChanged, KeyframeRequested, RtpSenderCore, ntp_timestamp

VP8 = VIDEO_CODECS[0]
OPUS = AUDIO_CODECS[0]


def key_frame(size: int) -> bytes:
    return b"\x10" + bytes(size - 1)  # P bit clear: key frame


def delta_frame(size: int) -> bytes:
    return b"\x11" + bytes(size - 1)


def sender(**kw: object) -> RtpSenderCore:
    return RtpSenderCore(VP8, 1234, rng=random.Random(1), **kw)  # type: ignore[arg-type]


def test_sender_packetizes_with_extensions_and_marker() -> None:
    seqs = iter(range(100, 200))
    s = sender(
        mid="v0",
        extensions={EXT_MID: 1, EXT_ABS_SEND_TIME: 2, EXT_TRANSPORT_CC: 3},
        transport_sequence=lambda: next(seqs),
        mtu=500,
    )
    s.send_frame(key_frame(1000), 0, 1.0)
    out = [RtpPacket.parse(d) for d in s.packets_to_send()]
    assert len(out) == 3 and [p.marker for p in out] == [False, False, True]
    assert all(len(d.payload) <= s.max_payload for d in out)
    assert {p.extensions[1] for p in out} == {b"v0"}
    assert [decode_transport_cc_seq(p.extensions[3]) for p in out] == [100, 101, 102]
    assert len({p.timestamp for p in out}) == 1
    assert [p.sequence_number for p in out] == [
        (out[0].sequence_number + i) & 0xFFFF for i in range(3)
    ]
    s.send_frame(delta_frame(10), 3000, 1.033)
    (p,) = [RtpPacket.parse(d) for d in s.packets_to_send()]
    assert (p.timestamp - out[0].timestamp) & 0xFFFFFFFF == 3000


def test_audio_sender_never_sets_marker() -> None:
    s = RtpSenderCore(OPUS, 5, rng=random.Random(2))
    s.send_frame(b"opus", 0, 0.0)
    (p,) = [RtpPacket.parse(d) for d in s.packets_to_send()]
    assert not p.marker and p.payload == b"opus" and p.payload_type == 111


def test_sender_answers_nack_with_rtx_and_surfaces_pli_fir_remb() -> None:
    s = sender(rtx_payload_type=97, rtx_ssrc=999)
    s.send_frame(key_frame(3000), 0, 0.0)
    sent = [RtpPacket.parse(d) for d in s.packets_to_send()]
    lost = sent[1].sequence_number
    s.receive_rtcp([Nack(1, 1234, [lost]), Nack(1, 4321, [lost])], 0.1)
    (rtx,) = [RtpPacket.parse(d) for d in s.packets_to_send()]
    assert rtx.ssrc == 999 and rtx.payload_type == 97
    assert rtx.payload == lost.to_bytes(2, "big") + sent[1].payload
    s.receive_rtcp([Pli(1, 1234), Pli(1, 77), Fir(1, 0, [(1234, 1)])], 0.2)
    assert s.events() == [KeyframeRequested("pli"), KeyframeRequested("fir")]
    s.receive_rtcp([Remb(1, 300_000, [1234])], 0.3)
    assert s.events() == [BitrateChanged(300_000)] and s.bwe.target_bitrate == 300_000


def test_sender_reports_and_rtt() -> None:
    s = sender(cname="me", clock_offset=1_700_000_000.0, rtcp_interval=1.0)
    s.send_frame(key_frame(100), 0, 10.0)
    s.packets_to_send()
    assert s.next_timeout() == 10.5
    s.timeout(10.5)
    (raw,) = s.packets_to_send()
    assert is_rtcp(raw)
    sr, sdes = parse_rtcp(raw)
    assert isinstance(sr, SenderReport) and isinstance(sdes, SourceDescription)
    assert sr.packet_count == 1 and sr.octet_count == 104  # payload incl. VP8 descriptor
    assert sr.ntp_timestamp == ntp_timestamp(1_700_000_010.5)
    assert sdes.chunks[0].items == [(1, b"me")]
    lsr = (sr.ntp_timestamp >> 16) & 0xFFFFFFFF
    # the receiver held the SR for 50 ms; the report arrives 130 ms after the SR left
    rr = ReceiverReport(9, [ReportBlock(1234, 0, 0, 0, 0, lsr, int(0.05 * 65536))])
    s.receive_rtcp([rr], 10.63)
    assert s.rtt is not None and abs(s.rtt - 0.08) < 0.001
    assert s.next_timeout() == 11.5
    bye = parse_rtcp(s.stop())
    assert isinstance(bye[1], Bye) and bye[1].ssrcs == [1234]
    s.send_frame(b"x", 1, 12.0)
    assert s.packets_to_send() == []


def packets_for(frames: list[bytes], ssrc: int = 1234) -> list[RtpPacket]:
    pay = Vp8Payloader()
    out = []
    seq = 65000
    for i, frame in enumerate(frames):
        payloads = pay.packetize(frame, 200)
        for k, payload in enumerate(payloads):
            out.append(RtpPacket(96, seq & 0xFFFF, i * 3000, ssrc, payload, k == len(payloads) - 1))
            seq += 1
    return out


def test_receiver_assembles_nacks_and_reports() -> None:
    r = RtpReceiverCore(VP8, local_ssrc=42, rtx_payload_type=97)
    packets = packets_for([key_frame(500), delta_frame(300), delta_frame(300)])
    lost = packets[4]
    for p in packets:
        if p is not lost:
            r.receive_rtp(p, 0.0)
    frames = r.frames()
    assert len(frames) == 1 and frames[0].keyframe and len(frames[0].data) == 500
    t = r.next_timeout()
    assert t is not None and t <= 0.01
    r.timeout(0.01)
    rr, nack = parse_rtcp(r.packets_to_send()[0])
    assert isinstance(nack, Nack) and nack.lost == [lost.sequence_number]
    assert nack.sender_ssrc == 42 and nack.media_ssrc == 1234
    assert isinstance(rr, ReceiverReport)
    rtx = RtpPacket(
        97, 7, lost.timestamp, 999, lost.sequence_number.to_bytes(2, "big") + lost.payload
    )
    r.receive_rtp(rtx, 0.05)
    assert [len(f.data) for f in r.frames()] == [300, 300]
    assert r.rtx_received == 1
    r.timeout(0.5)
    (report,) = parse_rtcp(r.packets_to_send()[-1])
    assert isinstance(report, ReceiverReport)
    block = report.reports[0]
    # the loss was repaired by RTX: it counts as received (as libwebrtc does)
    assert block.ssrc == 1234 and block.packets_lost == 0 and block.fraction_lost == 0
    assert rr.reports[0].packets_lost == 1  # the RR sent with the NACK, before the repair
    assert rr.reports[0].fraction_lost == 256 // len(packets)
    assert block.highest_sequence == packets[-1].sequence_number + 0x10000 * (
        packets[-1].sequence_number < packets[0].sequence_number
    )


def test_receiver_waits_for_keyframe_and_sends_pli() -> None:
    r = RtpReceiverCore(VP8, local_ssrc=42, max_delay=0.1)
    packets = packets_for([delta_frame(50), delta_frame(50), key_frame(50)])
    r.receive_rtp(packets[0], 0.0)
    assert r.frames() == [] and r.frames_dropped == 1
    (raw,) = r.packets_to_send()
    assert isinstance(parse_rtcp(raw)[1], Pli) and r.plis_sent == 1
    r.receive_rtp(packets[1], 0.1)
    assert r.packets_to_send() == []  # PLIs are rate limited
    assert r.next_timeout() is not None
    r.timeout(0.5)
    assert any(isinstance(p, Pli) for d in r.packets_to_send() for p in parse_rtcp(d))
    r.receive_rtp(packets[2], 0.6)
    assert [f.keyframe for f in r.frames()] == [True]


def test_receiver_ignores_foreign_packets_and_reports_bye() -> None:
    r = RtpReceiverCore(OPUS, ssrc=5)
    r.receive_rtp(RtpPacket(111, 1, 0, 6, b"x"), 0.0)  # other SSRC
    r.receive_rtp(RtpPacket(100, 1, 0, 5, b"x"), 0.0)  # other payload type
    assert r.frames() == [] and r.packets_received == 0
    r.receive_rtp(RtpPacket(111, 1, 0, 5, b"opus"), 0.0)
    assert [f.data for f in r.frames()] == [b"opus"]
    r.receive_rtcp(parse_rtcp(serialize_rtcp([SenderReport(5, 1 << 40), Bye([5])])), 1.0)
    assert r.events() == [RemoteBye(5)]
