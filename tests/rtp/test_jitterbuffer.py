"""Jitter buffer, RTX history and bandwidth estimator, driven with a fake clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.rtp.bwe import BandwidthEstimator
from rtcpeer.rtp.jitterbuffer import JitterBuffer
from rtcpeer.rtp.packet import ParseError, RtpPacket
from rtcpeer.rtp.rtx import RtxHistory, unwrap_rtx


def pkt(seq: int, ts: int, marker: bool = False, payload: bytes = b"") -> RtpPacket:
    return RtpPacket(96, seq & 0xFFFF, ts, 5, payload or bytes((seq & 0xFF,)), marker)


def video_stream(frames: int, per_frame: int, start_seq: int = 0) -> list[RtpPacket]:
    out = []
    seq = start_seq
    for f in range(frames):
        for i in range(per_frame):
            out.append(pkt(seq, f * 3000, i == per_frame - 1))
            seq += 1
    return out


def test_in_order_frames_assemble() -> None:
    jb = JitterBuffer()
    for p in video_stream(3, 3):
        jb.insert(p, 0.0)
    frames = jb.pop_frames()
    assert [f.timestamp for f in frames] == [0, 3000, 6000]
    assert all(len(f.payloads) == 3 for f in frames)
    assert [f.discontinuity for f in frames] == [True, False, False]  # nothing before the first


def test_reordering_across_wrap() -> None:
    jb = JitterBuffer()
    packets = video_stream(4, 3, start_seq=65530)
    order = [0, 2, 1, 3, 5, 4, 8, 7, 6, 9, 11, 10]
    for i in order:
        jb.insert(packets[i], 0.0)
    frames = jb.pop_frames()
    assert [f.timestamp for f in frames] == [0, 3000, 6000, 9000]
    assert frames[3].payloads == [bytes(((65539 + k) & 0xFF,)) for k in range(3)]
    assert jb.missing == 0


def test_frame_without_marker_ends_at_timestamp_change() -> None:
    jb = JitterBuffer()
    jb.insert(pkt(1, 0), 0.0)
    jb.insert(pkt(2, 0), 0.0)
    assert jb.pop_frames() == []
    jb.insert(pkt(3, 3000, True), 0.0)
    assert [len(f.payloads) for f in jb.pop_frames()] == [2, 1]


def test_nack_schedule_and_repair() -> None:
    jb = JitterBuffer(reorder_delay=0.005, max_delay=1.0)
    jb.rtt = 0.05
    packets = video_stream(3, 2)
    for p in packets:
        if p.sequence_number != 2:
            jb.insert(p, 0.0)
    assert len(jb.pop_frames()) == 1
    assert jb.nacks(0.001) == []  # reorder grace
    assert jb.next_timeout() == 0.005
    assert jb.nacks(0.005) == [2]
    assert jb.nacks(0.03) == []  # retry waits for max(1.2 rtt, 20 ms)
    assert jb.nacks(0.066) == [2]
    jb.insert(packets[2], 0.07)
    assert [f.timestamp for f in jb.pop_frames()] == [3000, 6000]
    assert jb.missing == 0 and jb.nacks(1.0) == []


def test_gap_is_skipped_after_max_delay() -> None:
    jb = JitterBuffer(max_delay=0.2)
    packets = video_stream(3, 2)
    for p in packets[:2] + packets[4:]:
        jb.insert(p, 0.0)
    assert len(jb.pop_frames()) == 1
    assert jb.next_timeout() is not None
    jb.timeout(0.1)
    assert jb.pop_frames() == []
    jb.timeout(0.2)
    frames = jb.pop_frames()
    assert [f.timestamp for f in frames] == [6000] and frames[0].discontinuity
    assert jb.skipped == 2
    jb.insert(packets[2], 0.3)  # too late now
    assert jb.late == 1 and jb.pop_frames() == []


def test_audio_every_packet_is_a_frame_and_duplicates_dropped() -> None:
    jb = JitterBuffer(video=False, nack=False)
    for s in (10, 11, 11, 12):
        jb.insert(pkt(s, s * 960), 0.0)
    assert len(jb.pop_frames()) == 3 and jb.late == 1  # already played out
    jb.insert(pkt(14, 0), 0.0)
    assert jb.nacks(1.0) == [] and jb.pop_frames() == []


def test_huge_jump_resets() -> None:
    jb = JitterBuffer(max_packets=100)
    jb.insert(pkt(0, 0, True), 0.0)
    jb.insert(pkt(5000, 9000, True), 0.0)
    frames = jb.pop_frames()
    assert len(frames) == 2 and frames[1].discontinuity and jb.missing == 0


@given(st.permutations(list(range(24))), st.integers(0, 0xFFFF))
def test_any_order_without_loss_yields_all_frames(order: list[int], start: int) -> None:
    packets = video_stream(8, 3, start_seq=start)
    jb = JitterBuffer(max_delay=10.0)
    jb.insert(packets[0], 0.0)  # the stream starts with its first packet
    for i in order:
        if i:
            jb.insert(packets[i], 0.0)
    frames = jb.pop_frames()
    assert [f.timestamp for f in frames] == [f * 3000 for f in range(8)]


def test_rtx_history_wraps_and_unwraps() -> None:
    hist = RtxHistory(size=8, rtx_ssrc=77, rtx_payload_type=97, initial_sequence=500)
    for s in range(10):
        hist.store(pkt(s, 0, payload=b"data%d" % s))
    out = hist.retransmit([1, 5, 9], now=0.0)  # 1 has been overwritten
    assert [p.sequence_number for p in out] == [500, 501]
    assert out[0].ssrc == 77 and out[0].payload_type == 97 and out[0].payload[:2] == b"\x00\x05"
    orig = unwrap_rtx(out[1], 96, 5)
    assert orig.sequence_number == 9 and orig.payload == b"data9" and orig.ssrc == 5
    assert hist.retransmit([9], now=0.001) == []  # rate limited
    assert len(hist.retransmit([9], now=0.05)) == 1
    assert hist.unavailable == 1
    try:
        unwrap_rtx(pkt(1, 0, payload=b"x"), 96, 5)
        raise AssertionError("expected ParseError")
    except ParseError:
        pass


def test_plain_retransmission_without_rtx() -> None:
    hist = RtxHistory()
    p = pkt(3, 0)
    hist.store(p)
    assert hist.retransmit([3], 0.0) == [p]


def test_bandwidth_estimator() -> None:
    bwe = BandwidthEstimator(initial=1_000_000, minimum=100_000, maximum=2_000_000)
    bwe.on_receiver_report(64, 0.0)  # 25 % loss
    assert bwe.target_bitrate == 875_000
    for i in range(40):
        bwe.on_receiver_report(0, 1.0 + i)
    assert bwe.target_bitrate == 2_000_000
    bwe.on_remb(300_000, 50.0)
    assert bwe.target_bitrate == 300_000
    bwe.on_receiver_report(0, 60.0)
    assert bwe.target_bitrate == 300_000  # REMB caps growth
    bwe.on_transport_feedback(received=50, lost=50, now=61.0)
    assert bwe.target_bitrate == 225_000
    for _ in range(20):
        bwe.on_receiver_report(255, 62.0)
    assert bwe.target_bitrate == 100_000


def test_padding_only_packets_fill_the_sequence_without_frames() -> None:
    jb = JitterBuffer()
    jb.insert(pkt(1, 0, True), 0.0)
    jb.insert(RtpPacket(96, 2, 0, 5, b"", False, padding=200), 0.0)  # probe between frames
    jb.insert(RtpPacket(96, 3, 0, 5, b"", False, padding=200), 0.0)
    jb.insert(pkt(4, 3000, True), 0.0)
    assert [f.timestamp for f in jb.pop_frames()] == [0, 3000]
    assert jb.missing == 0 and not jb.nacks(1.0)
