"""Transport-wide congestion control feedback: building, decoding, and the sender reacting."""

from __future__ import annotations

import random

from rtcpeer.rtp.codecs import VIDEO_CODECS
from rtcpeer.rtp.rtcp import TransportCc, parse_rtcp
from rtcpeer.rtp.sender import BitrateChanged, RtpSenderCore
from rtcpeer.rtp.twcc import TransportFeedbackBuilder, feedback_counts


def arrivals_from(fb: TransportCc) -> list[tuple[int, float | None]]:
    t = fb.reference_time * 0.064
    out: list[tuple[int, float | None]] = []
    deltas = iter(fb.deltas)
    for i, s in enumerate(fb.statuses):
        seq = (fb.base_sequence + i) & 0xFFFF
        if s == 0:
            out.append((seq, None))
        else:
            t += next(deltas) * 0.00025
            out.append((seq, t))
    return out


def test_feedback_describes_arrivals_losses_and_wrap() -> None:
    b = TransportFeedbackBuilder(sender_ssrc=9, interval=0.1)
    now = 50.0
    sent = [65533, 65534, 65535, 0, 1, 2, 3]
    times = {}
    for k, seq in enumerate(sent):
        if seq in (65535, 2):
            continue  # lost
        times[seq] = now + 0.001 * k
        b.on_packet(seq, 4242, times[seq])
    b.on_packet(1, 4242, now + 0.2)  # a duplicate arriving later is ignored for ordering
    assert b.packets_to_send() == []
    assert b.next_timeout() == now + 0.1
    b.timeout(now + 0.1)
    (raw,) = b.packets_to_send()
    (fb,) = parse_rtcp(raw)
    assert isinstance(fb, TransportCc)
    assert fb.sender_ssrc == 9 and fb.media_ssrc == 4242 and fb.base_sequence == 65533
    got = arrivals_from(fb)
    assert [s for s, _ in got] == sent
    assert [t is None for _, t in got] == [s in (65535, 2) for s in sent]
    rel = [t for _, t in got if t is not None]
    expected = [times[s] - now for s in sent if s in times]
    expected[sent.index(1) - 1] = 0.2  # the later copy overwrote the arrival
    assert all(abs(a - e) < 0.0003 for a, e in zip(rel, expected, strict=True))
    assert feedback_counts(fb) == (5, 2)
    # the next feedback continues after the last reported sequence number
    b.on_packet(4, 4242, now + 0.3)
    b.timeout(now + 0.4)
    (fb2,) = parse_rtcp(b.packets_to_send()[0])
    assert isinstance(fb2, TransportCc)
    assert fb2.base_sequence == 4 and fb2.feedback_count == 1 and fb2.statuses == [1]


def test_large_gaps_use_large_deltas_and_split_feedback() -> None:
    b = TransportFeedbackBuilder(1, max_packets_per_feedback=10)
    for i in range(25):
        b.on_packet(i, 1, 10.0 + i * 0.1)  # 100 ms apart: two-byte deltas
    b.timeout(20.0)
    fbs = [p for raw in b.packets_to_send() for p in parse_rtcp(raw)]
    assert [len(f.statuses) for f in fbs] == [10, 10, 5]  # type: ignore[union-attr]
    # the first of each is relative to the 64 ms reference time, the rest 100 ms apart
    assert all(s == 2 for f in fbs for s in f.statuses[1:])  # type: ignore[union-attr]


def test_sender_reacts_to_transport_feedback() -> None:
    s = RtpSenderCore(VIDEO_CODECS[0], 1, rng=random.Random(3))
    before = s.bwe.target_bitrate
    s.receive_rtcp([TransportCc(2, 1, 0, 0, 0, [1, 0, 0, 1], [1, 1])], 1.0)
    (ev,) = s.events()
    assert isinstance(ev, BitrateChanged) and ev.bitrate < before
