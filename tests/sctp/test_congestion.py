"""Congestion control (RFC 9260 section 7), RTO (RFC 6298), cookie lifetime and stream-reset
sequence numbers, driven packet by packet with a frozen fake clock."""

from __future__ import annotations

import pytest
from sctp_helpers import Pair

from netsim import LinkConfig
from rtcpeer.sctp.association import Association, AssociationState
from rtcpeer.sctp.chunks import (
    CauseCode,
    ChunkType,
    CookieEchoChunk,
    ErrorChunk,
    OutgoingSsnResetRequest,
    ReconfigChunk,
    SackChunk,
    parse_packet,
)

MTU = 1200


def exchange(p: Pair, pkts: list[bytes]) -> list[bytes]:
    """Deliver a's packets to b and each SACK back to a at once; return what a sends next."""
    now = p.clock.now
    out: list[bytes] = []
    for raw in pkts:
        p.b.receive(raw, now)
        for sack in p.b.packets_to_send():
            p.a.receive(sack, now)
            out += p.a.packets_to_send()
    p.b.timeout(now + 1.0)  # flush a delayed SACK, if any
    for sack in p.b.packets_to_send():
        p.a.receive(sack, now)
    return out + p.a.packets_to_send()


def test_initial_cwnd_and_slow_start_growth() -> None:
    p = Pair()
    assert p.connect()
    assert p.a.cwnd == 4380  # min(4 * MTU, max(2 * MTU, 4380))
    for _ in range(200):
        p.a.send(1, 53, bytes(1100))
    burst = p.a.packets_to_send()
    assert len(burst) == 4
    sizes = [len(burst)]
    cwnds = [p.a.cwnd]
    for _ in range(5):
        burst = exchange(p, burst)
        sizes.append(len(burst))
        cwnds.append(p.a.cwnd)
    # Every SACK (one per two packets) of a fully used window adds one MTU: x1.5 per round.
    assert cwnds[1] == 4380 + 2 * MTU
    for before, after in zip(cwnds, cwnds[1:], strict=False):
        assert after >= before + (before // MTU // 2) * MTU - MTU
    assert sizes[-1] > 3 * sizes[0]


def test_congestion_avoidance_adds_one_mtu_per_window() -> None:
    p = Pair()
    assert p.connect()
    p.a._ssthresh = 6000
    p.a._cwnd = 6000
    for _ in range(400):
        p.a.send(1, 53, bytes(1100))
    burst = p.a.packets_to_send()
    cwnds = [p.a.cwnd]
    for _ in range(6):
        burst = exchange(p, burst)
        cwnds.append(p.a.cwnd)
    steps = [b - a for a, b in zip(cwnds, cwnds[1:], strict=False)]
    assert all(s in (0, MTU) for s in steps)
    assert 3 * MTU <= cwnds[-1] - cwnds[0] <= 6 * MTU


def test_fast_recovery_reduces_once_per_window() -> None:
    p = Pair()
    assert p.connect()
    p.a._cwnd = 12 * MTU
    for _ in range(12):
        p.a.send(1, 53, bytes(1100))
    burst = p.a.packets_to_send()
    assert len(burst) == 12
    # Two losses in the same window: one halving only (7.2.4 fast recovery).
    delivered = [raw for i, raw in enumerate(burst) if i not in (1, 3)]
    now = p.clock.now
    for raw in delivered:
        p.b.receive(raw, now)
        for s in p.b.packets_to_send():
            p.a.receive(s, now)
    assert p.a._fast_recovery_exit is not None
    # cwnd was 13 MTU when the third miss report came (the SACK of packet 0 added one MTU).
    assert p.a.cwnd == p.a._ssthresh == 13 * MTU // 2
    rtx = p.a.packets_to_send()
    for raw in rtx:
        p.b.receive(raw, now)
    for s in p.b.packets_to_send():
        p.a.receive(s, now)
    p.collect()
    assert len(p.received(1)) == 12
    assert p.a._fast_recovery_exit is None  # left once the exit point was acked
    assert p.a.cwnd == 13 * MTU // 2


def test_rto_follows_rfc6298() -> None:
    a = Association(True)
    a._update_rto(0.5)
    assert a.srtt == pytest.approx(0.5) and a.rto == pytest.approx(1.5)  # R + 4 * R/2
    a._update_rto(0.3)
    # RTTVAR = 3/4 * 0.25 + 1/4 * |0.5 - 0.3|, SRTT = 7/8 * 0.5 + 1/8 * 0.3
    assert a.srtt == pytest.approx(0.475)
    assert a.rto == pytest.approx(0.475 + 4 * 0.2375)
    for _ in range(50):
        a._update_rto(0.001)
    assert a.rto == pytest.approx(a.rto_min)
    a._update_rto(500.0)
    assert a.rto == a.rto_max


def test_stale_cookie_is_refused_and_the_handshake_starts_again() -> None:
    for delay, established in ((61.0, False), (1.0, True)):
        p = Pair()
        now = p.clock.now
        p.a.connect(now)
        for raw in p.a.packets_to_send():
            p.b.receive(raw, now)
        for raw in p.b.packets_to_send():
            p.a.receive(raw, now)
        echo = p.a.packets_to_send()
        assert isinstance(parse_packet(echo[0]).chunks[0], CookieEchoChunk)
        p.clock.advance(delay)
        p.b.receive(echo[0], p.clock.now)
        answer = p.b.packets_to_send()
        assert (p.b.state is AssociationState.ESTABLISHED) == established
        (chunk,) = parse_packet(answer[0]).chunks
        if established:
            assert chunk.type == ChunkType.COOKIE_ACK
            continue
        # 3.3.10.3: an ERROR with a Stale Cookie cause giving the staleness in microseconds.
        assert isinstance(chunk, ErrorChunk)
        assert chunk.causes[0].type == CauseCode.STALE_COOKIE
        assert int.from_bytes(chunk.causes[0].value, "big") == pytest.approx(1e6, rel=1e-3)
        p.a.receive(answer[0], p.clock.now)
        assert p.a.state is AssociationState.COOKIE_WAIT
        (init,) = p.a.packets_to_send()
        assert parse_packet(init).chunks[0].type == ChunkType.INIT
        p.link.send(0, init)
        assert p.run(lambda p=p: p.a.state is p.b.state is AssociationState.ESTABLISHED)


def test_reconfig_request_sequence_starts_at_initial_tsn() -> None:
    p = Pair(LinkConfig())
    assert p.connect()
    p.a.send(3, 53, b"x")
    p.a.reset_streams([3])
    req = None
    p.record = True
    assert p.run(lambda: p.a._reconf_req is None and p.a._reconf_seq != p.a._local_initial_tsn)
    for raw in p.sent_packets[0]:
        for c in parse_packet(raw).chunks:
            if isinstance(c, ReconfigChunk) and isinstance(c.params[0], OutgoingSsnResetRequest):
                req = c.params[0]
    assert req is not None
    assert req.request_seq == p.a._local_initial_tsn  # RFC 6525 5.1
    assert req.streams == [3]


def test_sack_advertises_a_large_window() -> None:
    p = Pair()
    assert p.connect()
    p.a.send(1, 53, bytes(1000))
    p.a.send(1, 53, bytes(1000))
    now = p.clock.now
    for raw in p.a.packets_to_send():
        p.b.receive(raw, now)
    sacks = [
        c
        for raw in p.b.packets_to_send()
        for c in parse_packet(raw).chunks
        if isinstance(c, SackChunk)
    ]
    assert sacks and sacks[0].a_rwnd == 4 * 1024 * 1024
