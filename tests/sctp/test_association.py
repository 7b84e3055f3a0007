"""Sans-I/O tests of rtcpeer.sctp.association over a seeded lossy link with a fake clock."""

from __future__ import annotations

import random
import struct
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sctp_helpers import Pair

from netsim import LinkConfig
from rtcpeer.errors import InvalidStateError, OperationError
from rtcpeer.sctp.association import (
    Association,
    AssociationState,
    Closed,
    Connected,
    DataReceived,
    IncomingStreamsReset,
    OutgoingStreamsReset,
)
from rtcpeer.sctp.chunks import (
    ChunkType,
    DataChunk,
    ForwardTsnChunk,
    HeartbeatChunk,
    Packet,
    SackChunk,
    crc32c,
    parse_packet,
)

LOSSY = LinkConfig(loss=0.1, duplicate=0.1, reorder=0.3, jitter=0.02, seed=11)


def chunks_of(raw: bytes) -> list[Any]:
    return list(parse_packet(raw).chunks)


def data_chunks(packets: list[bytes]) -> list[DataChunk]:
    return [c for p in packets for c in chunks_of(p) if isinstance(c, DataChunk)]


# --- handshake -------------------------------------------------------------------------------


def test_handshake_simultaneous_init_collision() -> None:
    p = Pair()
    assert p.connect(both=True)
    assert p.a.peer_tag == p.b.local_tag and p.b.peer_tag == p.a.local_tag
    assert p.ev == [[Connected()], [Connected()]]
    assert p.a.outbound_streams == p.b.inbound_streams == 65535


def test_handshake_one_sided_passive_peer() -> None:
    p = Pair()
    assert p.connect(both=False)
    assert p.a.peer_tag == p.b.local_tag and p.b.peer_tag == p.a.local_tag
    assert p.ev == [[Connected()], [Connected()]]
    # A then B both send and receive.
    p.a.send(1, 53, b"ping")
    p.b.send(2, 53, b"pong")
    assert p.run(lambda: p.received(0) and p.received(1))
    assert p.received(1) == [DataReceived(1, 53, b"ping")]
    assert p.received(0) == [DataReceived(2, 53, b"pong")]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("both", [True, False])
def test_handshake_at_20_percent_loss(seed: int, both: bool) -> None:
    p = Pair(LinkConfig(loss=0.2, reorder=0.2, seed=seed), seed=seed)
    assert p.connect(both=both, max_time=120)
    assert p.a.peer_tag == p.b.local_tag and p.b.peer_tag == p.a.local_tag
    assert [e for e in p.ev[0] if isinstance(e, Connected)] == [Connected()]
    assert [e for e in p.ev[1] if isinstance(e, Connected)] == [Connected()]
    p.a.send(0, 51, b"after handshake")
    assert p.run(lambda: p.received(1), max_time=120)
    assert p.received(1) == [DataReceived(0, 51, b"after handshake")]


def test_init_times_out_without_peer() -> None:
    p = Pair(LinkConfig(loss=1.0))
    p.a.connect(p.clock.now)
    p.run(lambda: p.a.state is AssociationState.CLOSED, max_time=1000)
    assert p.ev[0] == [Closed("association setup timed out")]


def test_duplicate_cookie_echo_is_answered_again() -> None:
    p = Pair()
    p.a.connect(p.clock.now)
    init = p.a.packets_to_send()
    p.b.receive(init[0], p.clock.now)
    p.a.receive(p.b.packets_to_send()[0], p.clock.now)  # INIT ACK
    echo = p.a.packets_to_send()[0]
    p.b.receive(echo, p.clock.now)
    first = p.b.packets_to_send()
    p.b.receive(echo, p.clock.now)  # retransmitted COOKIE ECHO: case D
    second = p.b.packets_to_send()
    assert [type(c).__name__ for c in chunks_of(first[0])] == ["CookieAckChunk"]
    assert [type(c).__name__ for c in chunks_of(second[0])] == ["CookieAckChunk"]
    assert p.b.events() == [Connected()]


def test_forged_cookie_is_ignored() -> None:
    p = Pair()
    p.a.connect(p.clock.now)
    p.b.receive(p.a.packets_to_send()[0], p.clock.now)
    p.a.receive(p.b.packets_to_send()[0], p.clock.now)
    echo = bytearray(p.a.packets_to_send()[0])
    echo[20] ^= 0x55  # inside the cookie
    pkt = parse_packet(bytes(echo), verify=False)
    p.b.receive(pkt.encode(), p.clock.now)
    assert p.b.packets_to_send() == []
    assert p.b.state is AssociationState.CLOSED and p.b.events() == []


# --- data transfer ---------------------------------------------------------------------------


def test_small_and_fragmented_messages_lossless() -> None:
    p = Pair()
    assert p.connect()
    msgs = [bytes([i % 256]) * (i * 37 % 4000 + 1) for i in range(300)]
    for m in msgs:
        p.a.send(3, 53, m)
    assert p.run(lambda: len(p.received(1)) == len(msgs))
    assert [e.data for e in p.received(1)] == msgs
    assert p.a.buffered_amount(3) == 0


def test_reliable_ordered_at_10_percent_loss_dup_reorder() -> None:
    p = Pair(LOSSY)
    assert p.connect()
    rng = random.Random(5)
    sent: dict[int, list[bytes]] = {1: [], 2: []}
    for i in range(1500):
        sid = 1 + i % 2
        m = f"{sid}:{i}:".encode() + bytes(rng.randrange(0, 3000))
        sent[sid].append(m)
        p.a.send(sid, 53, m)
    assert p.run(lambda: len(p.received(1)) == 1500, max_time=600)
    for sid in (1, 2):
        assert [e.data for e in p.received(1) if e.stream_id == sid] == sent[sid]
    p.run(max_time=5)  # let stray duplicates arrive: still exactly once
    assert len(p.received(1)) == 1500
    assert p.a._flight == 0 and not p.a._sent


def test_both_directions_at_10_percent_loss() -> None:
    p = Pair(LOSSY)
    assert p.connect()
    for i in range(400):
        p.a.send(0, 51, b"a%d" % i)
        p.b.send(1, 51, b"b%d" % i * 50)
    assert p.run(lambda: len(p.received(0)) == 400 and len(p.received(1)) == 400, 600)
    assert [e.data for e in p.received(1)] == [b"a%d" % i for i in range(400)]
    assert [e.data for e in p.received(0)] == [b"b%d" % i * 50 for i in range(400)]


def test_unordered_at_10_percent_loss() -> None:
    p = Pair(LOSSY)
    assert p.connect()
    msgs = [b"u%d-" % i + bytes(i % 2500) for i in range(1000)]
    for m in msgs:
        p.a.send(4, 53, m, ordered=False)
    assert p.run(lambda: len(p.received(1)) == len(msgs), max_time=600)
    got = [e.data for e in p.received(1)]
    assert Counter(got) == Counter(msgs)
    assert got != msgs  # reordering really happened


def test_sixteen_mib_message() -> None:
    p = Pair()
    assert p.connect()
    big = bytes(range(256)) * (16 * 1024 * 4)
    assert len(big) == 16 * 1024 * 1024
    p.a.send(1, 53, big)
    assert p.a.buffered_amount(1) == len(big)
    assert p.run(lambda: p.received(1), max_time=600)
    (ev,) = p.received(1)
    assert ev.data == big
    assert p.a.buffered_amount(1) == 0


def test_large_messages_at_loss() -> None:
    p = Pair(LinkConfig(loss=0.05, reorder=0.2, seed=3))
    assert p.connect()
    msgs = [bytes([i]) * 300_000 for i in range(4)]
    for m in msgs:
        p.a.send(1, 53, m)
    assert p.run(lambda: len(p.received(1)) == 4, max_time=600)
    assert [e.data for e in p.received(1)] == msgs


def test_tsn_wraparound() -> None:
    class NearWrap(random.Random):
        def randrange(self, start: int, stop: Any = None, step: int = 1) -> int:  # type: ignore[override]
            if start == 0 and stop == 1 << 32:
                return 0xFFFFFFFF - 20
            return super().randrange(start, stop, step)

    p = Pair()
    p.a = Association(True, rng=NearWrap(1))
    p.b = Association(False, rng=NearWrap(2))
    p.eps = [p.a, p.b]
    p.link.config = LinkConfig(loss=0.1, reorder=0.3, seed=2)
    assert p.connect()
    msgs = [b"w%d" % i * 200 for i in range(300)]
    for m in msgs:
        p.a.send(1, 53, m)
    assert p.run(lambda: len(p.received(1)) == 300, max_time=300)
    assert [e.data for e in p.received(1)] == msgs
    assert p.a._next_tsn > 1 << 32  # really wrapped on the wire


def test_send_validation() -> None:
    a = Association(True, max_message_size=1000, max_send_buffer=5000)
    a.send(1, 53, bytes(1001))  # max_message_size bounds what we receive, not what we send
    with pytest.raises(OperationError, match="send queue is full"):
        a.send(1, 53, bytes(4000))
    with pytest.raises(ValueError, match="out of range"):
        a.send(70000, 53, b"x")
    with pytest.raises(ValueError, match="empty"):
        a.send(1, 53, b"")
    a.abort()
    with pytest.raises(InvalidStateError):
        a.send(1, 53, b"x")


# --- SACK, congestion control and timers -----------------------------------------------------


def sack_of(packets: list[bytes]) -> SackChunk:
    (sack,) = [c for p in packets for c in chunks_of(p) if isinstance(c, SackChunk)]
    return sack


def test_delayed_sack_every_second_packet_or_200ms() -> None:
    p = Pair()
    assert p.connect()
    now = p.clock.now
    p.a.send(1, 53, b"one")
    (pkt,) = p.a.packets_to_send()
    p.b.receive(pkt, now)
    assert p.b.packets_to_send() == []
    assert p.b.next_timeout() == pytest.approx(now + 0.2)
    p.b.timeout(now + 0.2)
    sack = sack_of(p.b.packets_to_send())
    assert sack.gaps == [] and sack.duplicates == [] and sack.a_rwnd == 4 * 1024 * 1024
    p.a.send(1, 53, b"two")
    p.a.send(1, 53, bytes(2000))
    pkts = p.a.packets_to_send()
    assert len(pkts) == 2
    p.b.receive(pkts[0], now)
    assert p.b.packets_to_send() == []
    p.b.receive(pkts[1], now)
    assert sack_of(p.b.packets_to_send()).cumulative_tsn == sack.cumulative_tsn + 3


def test_sack_reports_gaps_and_duplicates_immediately() -> None:
    p = Pair()
    assert p.connect()
    now = p.clock.now
    for i in range(4):
        p.a.send(1, 53, bytes(1100) + bytes([i]))
    pkts = p.a.packets_to_send()
    assert len(pkts) == 4
    p.b.receive(pkts[0], now)
    p.b.packets_to_send()
    p.b.receive(pkts[2], now)
    s1 = sack_of(p.b.packets_to_send())
    assert s1.gaps == [(2, 2)] and s1.duplicates == []
    p.b.receive(pkts[0], now)
    s2 = sack_of(p.b.packets_to_send())
    first_tsn = data_chunks(pkts[:1])[0].tsn
    assert s2.duplicates == [first_tsn] and s2.gaps == [(2, 2)]
    p.b.receive(pkts[3], now)
    assert sack_of(p.b.packets_to_send()).gaps == [(2, 3)]


def test_fast_retransmit_after_three_miss_reports() -> None:
    p = Pair()
    assert p.connect()
    now = p.clock.now
    for i in range(8):
        p.a.send(1, 53, bytes(1100) + bytes([i]))
    first = p.a.packets_to_send()
    assert len(first) == 4  # the initial cwnd (4380 bytes) limits the burst
    lost = data_chunks(first[1:2])[0].tsn
    sent: list[DataChunk] = data_chunks(first)
    to_b = first[:1] + first[2:]
    # Exchange everything at a frozen clock: recovery must come from fast retransmit (the
    # third miss report), never from the T3 timer.
    while to_b:
        for pkt in to_b:
            p.b.receive(pkt, now)
            for s in p.b.packets_to_send():
                p.a.receive(s, now)
        to_b = p.a.packets_to_send()
        sent += data_chunks(to_b)
        if not to_b:
            for s in p.b.packets_to_send():
                p.a.receive(s, now)
            to_b = p.a.packets_to_send()
            sent += data_chunks(to_b)
    assert [c.tsn for c in sent].count(lost) == 2
    assert p.a._ssthresh == 4800
    p.collect()
    assert [e.data[-1] for e in p.received(1)] == list(range(8))


def test_rto_backoff_when_peer_is_silent() -> None:
    p = Pair()
    assert p.connect()
    now = p.clock.now
    p.a.send(1, 53, b"lost forever")
    first = p.a.packets_to_send()
    assert len(first) == 1
    assert p.a.next_timeout() == pytest.approx(now + 1.0)
    expected = [2.0, 4.0, 8.0, 16.0]
    t = now + 1.0
    for rto in expected:
        p.a.timeout(t)
        out = p.a.packets_to_send()
        assert [c.tsn for c in data_chunks(out)] == [c.tsn for c in data_chunks(first)]
        assert p.a.rto == rto and p.a.cwnd == 1200
        assert p.a.next_timeout() == pytest.approx(t + rto)
        t += rto


def test_association_fails_after_max_retransmissions() -> None:
    p = Pair()
    assert p.connect()
    p.link.config.loss = 1.0
    p.a.send(1, 53, b"x")
    assert p.run(lambda: p.a.state is AssociationState.CLOSED, max_time=2000)
    assert p.ev[0][-1] == Closed("aborted locally: too many retransmissions")


def test_rtt_measurement_sets_rto() -> None:
    p = Pair(LinkConfig(delay=0.05, jitter=0.0))
    assert p.connect()
    # Two full packets per round so the receiver SACKs at once (no delayed-ack inflation).
    for i in range(20):
        p.a.send(1, 53, bytes(1100))
        p.a.send(1, 53, bytes(1100))
        assert p.run(lambda i=i: len(p.received(1)) == 2 * i + 2)
    assert p.a.srtt == pytest.approx(0.1)
    assert p.a.rto == pytest.approx(0.2)  # srtt + 4 * rttvar is below RTO.min


# --- partial reliability (RFC 3758) ----------------------------------------------------------


@pytest.mark.parametrize("ordered", [True, False])
def test_max_retransmits_zero_at_20_percent_loss(ordered: bool) -> None:
    p = Pair(LinkConfig(loss=0.2, reorder=0.1, seed=4))
    assert p.connect()
    p.record = True
    msgs = [b"p%04d" % i + bytes(i % 2000) for i in range(600)]
    for m in msgs:
        p.a.send(7, 53, m, ordered=ordered, max_retransmits=0)
    p.run(lambda: p.a._buffered_empty(), max_time=300)
    p.run(max_time=10)
    got = [e.data for e in p.received(1)]
    assert len(got) == len(set(got))
    assert set(got) <= set(msgs) and 0 < len(got) < len(msgs)
    if ordered:
        assert got == sorted(got)
    # No TSN was ever sent twice, and FORWARD TSN moved the peer past every abandoned one.
    tsns = [c.tsn for c in data_chunks(p.sent_packets[0])]
    assert len(tsns) == len(set(tsns))
    fwd = [c for pk in p.sent_packets[0] for c in chunks_of(pk) if isinstance(c, ForwardTsnChunk)]
    assert fwd
    assert p.a._cum_acked == p.a._next_tsn - 1 == p.b._cum_in
    # The stream still works for reliable traffic afterwards.
    p.a.send(7, 53, b"final", ordered=ordered)
    assert p.run(lambda: p.received(1)[-1].data == b"final", max_time=60)


def test_max_lifetime_abandons_stale_messages() -> None:
    p = Pair(LinkConfig(loss=0.2, delay=0.05, seed=9))
    assert p.connect()
    msgs = [b"t%04d" % i + bytes(1000) for i in range(300)]
    for m in msgs:
        p.a.send(2, 53, m, max_lifetime=0.15)
    p.run(lambda: p.a._buffered_empty(), max_time=300)
    p.run(max_time=10)
    got = [e.data for e in p.received(1)]
    assert len(got) == len(set(got)) and got == sorted(got)
    assert 0 < len(got) < len(msgs)
    assert p.a._cum_acked == p.a._next_tsn - 1 == p.b._cum_in


def test_abandoned_fragmented_message_is_dropped_whole() -> None:
    p = Pair(LinkConfig(loss=0.3, seed=21))
    assert p.connect()
    msgs = [bytes([i]) * 5000 for i in range(60)]
    for m in msgs:
        p.a.send(1, 53, m, max_retransmits=0)
    p.run(lambda: p.a._buffered_empty(), max_time=300)
    p.run(max_time=10)
    got = [e.data for e in p.received(1)]
    assert all(g in msgs for g in got) and len(got) == len(set(got))
    assert len(got) < len(msgs)
    assert not p.b._partials and not p.b._orphans


# --- stream reset (RFC 6525) -----------------------------------------------------------------


def test_stream_reset_both_directions_and_reuse() -> None:
    p = Pair()
    assert p.connect()
    for i in range(5):
        p.a.send(1, 53, b"before%d" % i)
    p.a.reset_streams([1])
    with pytest.raises(InvalidStateError, match="being reset"):
        p.a.send(1, 53, b"x")
    assert p.run(lambda: any(isinstance(e, OutgoingStreamsReset) for e in p.ev[0]))
    assert [e for e in p.ev[1] if not isinstance(e, Connected)] == [
        *(DataReceived(1, 53, b"before%d" % i) for i in range(5)),
        IncomingStreamsReset((1,)),
    ]
    assert OutgoingStreamsReset((1,)) in p.ev[0]
    # The stream restarts at SSN 0 on both sides.
    p.a.send(1, 53, b"after")
    (pkt,) = p.a.packets_to_send()
    assert data_chunks([pkt])[0].ssn == 0
    p.b.receive(pkt, p.clock.now)
    assert p.b.events() == [DataReceived(1, 53, b"after")]


def test_stream_reset_deferred_until_last_tsn_arrives() -> None:
    p = Pair(LinkConfig(loss=0.15, reorder=0.5, jitter=0.05, seed=5))
    assert p.connect()
    for i in range(200):
        p.a.send(5, 53, b"d%d" % i * 30)
    p.a.reset_streams([5])
    assert p.run(lambda: IncomingStreamsReset((5,)) in p.ev[1], max_time=300)
    evs = [e for e in p.ev[1] if not isinstance(e, Connected)]
    assert evs[-1] == IncomingStreamsReset((5,))
    assert [e.data for e in evs[:-1]] == [b"d%d" % i * 30 for i in range(200)]
    assert p.run(lambda: OutgoingStreamsReset((5,)) in p.ev[0], max_time=300)


# --- heartbeat, shutdown, abort --------------------------------------------------------------


def test_heartbeat_when_idle() -> None:
    p = Pair(heartbeat_interval=1.0)
    assert p.connect()
    p.record = True
    start = p.clock.now
    p.run(lambda: p.clock.now > start + 5, max_time=6)
    hbs = [c for pk in p.sent_packets[0] for c in chunks_of(pk) if type(c) is HeartbeatChunk]
    assert len(hbs) >= 2
    assert p.a.srtt == pytest.approx(0.01)
    assert p.a.state is AssociationState.ESTABLISHED


def test_heartbeat_failure_closes() -> None:
    p = Pair(heartbeat_interval=1.0)
    assert p.connect()
    p.link.config.loss = 1.0
    assert p.run(lambda: p.a.state is AssociationState.CLOSED, max_time=3000)
    assert p.ev[0][-1] == Closed("aborted locally: peer unreachable (heartbeats unanswered)")


def test_graceful_shutdown_delivers_everything() -> None:
    p = Pair(LOSSY)
    assert p.connect()
    for i in range(100):
        p.a.send(1, 53, b"s%d" % i * 40)
    p.a.shutdown(p.clock.now)
    with pytest.raises(InvalidStateError):
        p.a.send(1, 53, b"late")
    assert p.run(lambda: p.a.state is p.b.state is AssociationState.CLOSED, max_time=300)
    assert [e.data for e in p.received(1)] == [b"s%d" % i * 40 for i in range(100)]
    assert p.ev[0][-1] == Closed(None) and p.ev[1][-1] == Closed(None)
    assert p.a.next_timeout() is None and p.b.next_timeout() is None


def test_abort_reaches_peer_with_reason() -> None:
    p = Pair()
    assert p.connect()
    p.a.abort("bye now")
    assert p.run(lambda: p.b.state is AssociationState.CLOSED)
    assert p.ev[0][-1] == Closed("aborted locally: bye now")
    assert p.ev[1][-1] == Closed("aborted by peer: user initiated abort: bye now")


# --- robustness -----------------------------------------------------------------------------


def retag(raw: bytes, tag: int) -> bytes:
    pkt = parse_packet(raw)
    return Packet(pkt.source_port, pkt.destination_port, tag, pkt.chunks).encode()


def test_wrong_vtag_and_bad_crc_are_dropped() -> None:
    p = Pair()
    assert p.connect()
    p.a.send(1, 53, b"payload")
    (pkt,) = p.a.packets_to_send()
    now = p.clock.now
    p.b.receive(retag(pkt, p.b.local_tag ^ 1), now)
    bad_crc = pkt[:8] + struct.pack("<I", crc32c(b"nope")) + pkt[12:]
    p.b.receive(bad_crc, now)
    p.b.receive(pkt[:-1], now)
    p.b.timeout(now + 1)
    assert p.b.events() == [] and p.b.packets_to_send() == []
    p.b.receive(pkt, now)
    assert p.b.events() == [DataReceived(1, 53, b"payload")]


def test_abort_with_wrong_tag_is_ignored() -> None:
    p = Pair()
    assert p.connect()
    from rtcpeer.sctp.chunks import AbortChunk

    forged = Packet(5000, 5000, 12345, [AbortChunk()]).encode()
    p.b.receive(forged, p.clock.now)
    assert p.b.state is AssociationState.ESTABLISHED


_fuzz_pair: list[Pair] = []


def _established_pair() -> Pair:
    if not _fuzz_pair:
        p = Pair()
        assert p.connect()
        _fuzz_pair.append(p)
    return _fuzz_pair[0]


@settings(max_examples=300)
@given(st.data())
def test_mutated_packets_never_raise(data: st.DataObject) -> None:
    p = _established_pair()
    tsn = p.b._cum_in + 1
    kind = data.draw(st.sampled_from(["data", "sack", "fwd", "raw"]))
    if kind == "data":
        chunk: Any = DataChunk(
            (tsn + data.draw(st.integers(-3, 3))) & 0xFFFFFFFF,
            data.draw(st.integers(0, 5)),
            data.draw(st.integers(0, 3)),
            53,
            data.draw(st.binary(min_size=1, max_size=50)),
            data.draw(st.integers(0, 15)),
        )
    elif kind == "sack":
        chunk = SackChunk(
            (p.a._cum_acked + data.draw(st.integers(-5, 5))) & 0xFFFFFFFF,
            data.draw(st.integers(0, 1 << 32 - 1)),
            data.draw(
                st.lists(
                    st.tuples(st.integers(0, 70000 & 0xFFFF), st.integers(0, 0xFFFF)), max_size=3
                )
            ),
            [],
        )
    elif kind == "fwd":
        chunk = ForwardTsnChunk(
            (tsn + data.draw(st.integers(-3, 50))) & 0xFFFFFFFF,
            data.draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 0xFFFF)), max_size=3)),
        )
    else:
        raw = data.draw(st.binary(min_size=4, max_size=64))
        ctype = data.draw(st.sampled_from([int(t) for t in ChunkType] + [0x3F, 0x7F, 0xBF, 0xFF]))
        body = raw[:2] + struct.pack("!H", len(raw) + 2) + raw[2:]
        chunk = None
        pkt = Packet(5000, 5000, p.b.local_tag, []).encode()[:12] + bytes([ctype]) + body[1:]
        pkt += b"\0" * (-len(pkt) % 4)
        fixed = pkt[:8] + struct.pack("<I", crc32c(pkt[:8] + b"\0\0\0\0" + pkt[12:])) + pkt[12:]
        p.b.receive(fixed, p.clock.now)
    if chunk is not None:
        target = p.a if kind == "sack" else p.b
        p.b.receive(
            Packet(5000, 5000, target.local_tag, [chunk]).encode(), p.clock.now
        ) if target is p.b else p.a.receive(
            Packet(5000, 5000, p.a.local_tag, [chunk]).encode(), p.clock.now
        )
    for ep in p.eps:
        ep.packets_to_send()
        ep.events()
        t = ep.next_timeout()
        if t is not None:
            ep.timeout(t)


def test_throughput_correctness_bulk_and_small() -> None:
    """The perf_sctp.py scenario at reduced size: every byte arrives, in order."""
    p = Pair(LinkConfig(delay=0.0005, jitter=0.0))
    assert p.connect()
    blocks = [bytes([i % 251]) * 65536 for i in range(64)]  # 4 MiB
    for b in blocks:
        p.a.send(1, 53, b)
    for i in range(5000):
        p.a.send(2, 53, struct.pack("!Q", i) * 8)
    assert p.run(lambda: len(p.received(1)) == 64 + 5000, max_time=120)
    assert [e.data for e in p.received(1) if e.stream_id == 1] == blocks
    assert [e.data for e in p.received(1) if e.stream_id == 2] == [
        struct.pack("!Q", i) * 8 for i in range(5000)
    ]


def test_shutdown_from_both_sides_with_data_in_flight() -> None:
    p = Pair(LOSSY)
    assert p.connect()
    for i in range(20):
        p.a.send(1, 53, bytes([i]) * 3000)
        p.b.send(2, 53, bytes([i]) * 2000)
    p.run(max_time=0.02)
    p.a.shutdown(p.clock.now)
    p.b.shutdown(p.clock.now)
    with pytest.raises(InvalidStateError):
        p.a.send(1, 53, b"too late")
    assert p.run(
        lambda: p.a.state is AssociationState.CLOSED and p.b.state is AssociationState.CLOSED,
        max_time=120,
    )
    assert [e.data[0] for e in p.received(1)] == list(range(20))
    assert [e.data[0] for e in p.received(0)] == list(range(20))
    assert p.ev[0][-1] == Closed(None) and p.ev[1][-1] == Closed(None)


def test_streams_are_served_round_robin() -> None:
    """A backlog on one stream delays another stream's message by one message at most."""
    p = Pair()
    assert p.connect()
    for i in range(32):
        p.a.send(1, 53, bytes([i]) * 65536)
    p.a.send(3, 51, b"chat")
    p.a.send(5, 50, b"\x03dcep")
    assert p.run(lambda: len(p.received(1)) == 34)
    order = [(e.stream_id, e.data[0]) for e in p.received(1)]
    assert order.index((3, ord("c"))) <= 1 and order.index((5, 3)) <= 2
    assert [d for sid, d in order if sid == 1] == list(range(32))
