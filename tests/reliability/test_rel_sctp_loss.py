"""SCTP loss recovery on a seeded lossy link (sans-I/O, fake clock): at 20 % loss in both
directions a transfer must not be bound by the retransmission timer (RFC 9260 T3 with its
doubling RTO), and the probe timeout that avoids it must not fire spuriously on a quiet link
whose peer delays its SACKs."""

from __future__ import annotations

import random

import pytest

from netsim import FakeClock, LinkConfig, LossyLink, run_until
from rtcpeer.sctp.association import Association, AssociationState, DataReceived
from rtcpeer.sctp.chunks import DataChunk, parse_packet


class _Pair:
    def __init__(self, config: LinkConfig, seed: int) -> None:
        self.clock = FakeClock()
        self.link = LossyLink(self.clock, config)
        self.a = Association(True, rng=random.Random(seed))
        self.b = Association(False, rng=random.Random(seed + 1))
        self.got: list[bytes] = []
        self.data_chunks_sent = 0

    def flush(self, ep: Association) -> list[bytes]:
        out = ep.packets_to_send()
        if ep is self.a:
            for pkt in out:
                chunks = parse_packet(pkt).chunks
                self.data_chunks_sent += sum(isinstance(c, DataChunk) for c in chunks)
        return out

    def run(self, done: object, max_time: float) -> bool:
        def check() -> bool:
            self.a.events()
            self.got += [e.data for e in self.b.events() if isinstance(e, DataReceived)]
            return bool(done())  # type: ignore[operator]

        return run_until(
            self.clock,
            self.link,
            [self.a, self.b],
            deliver=lambda ep, data, now: ep.receive(data, now),
            flush=self.flush,
            done=check,
            max_time=max_time,
        )

    def connect(self) -> None:
        self.a.connect(self.clock.now)
        self.b.connect(self.clock.now)
        assert self.run(lambda: self.a.state is AssociationState.ESTABLISHED, 60)
        assert self.run(lambda: self.b.state is AssociationState.ESTABLISHED, 60)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_twenty_percent_loss_is_not_timer_bound(seed: int) -> None:
    """512 KiB in 16 KiB messages, 20 % loss, 2 % duplicates, 5 % reordered, both ways.
    Before the probe timeout and the RTO backoff reset this took 20-40 s of simulated time
    (nearly all of it waiting for T3); now a few seconds."""
    config = LinkConfig(
        loss=0.2, duplicate=0.02, reorder=0.05, delay=0.002, jitter=0.004, seed=seed
    )
    p = _Pair(config, seed)
    p.connect()
    n = 32
    messages = [random.Random(seed * 100 + i).randbytes(16 * 1024) for i in range(n)]
    t0 = p.clock.now
    for m in messages:
        p.a.send(1, 53, m, now=p.clock.now)
    assert p.run(lambda: len(p.got) >= n, 120)
    elapsed = p.clock.now - t0
    assert p.got == messages  # every byte, once, in order
    assert elapsed < 8.0, f"{elapsed:.1f}s of simulated time"
    assert p.a.state is AssociationState.ESTABLISHED


def test_quiet_link_with_delayed_sacks_sees_no_spurious_retransmission() -> None:
    """One small message a second on a lossless link: the peer delays each SACK (200 ms, no
    I bit on a lone chunk), so the probe timeout must wait for it (RFC 8985 7.2)."""
    p = _Pair(LinkConfig(delay=0.002), 1)
    p.connect()
    p.a.send(1, 53, b"warm-up", now=p.clock.now)
    assert p.run(lambda: len(p.got) == 1, 5)
    p.run(lambda: False, 1.0)  # let the delayed SACK and the RTT estimate settle
    p.data_chunks_sent = 0
    for i in range(20):
        p.a.send(1, 53, f"message {i}".encode(), now=p.clock.now)
        start = p.clock.now
        assert p.run(lambda i=i: len(p.got) == i + 2, 5)
        p.run(lambda: False, 1.0 - (p.clock.now - start))
    assert p.got[1:] == [f"message {i}".encode() for i in range(20)]
    assert p.data_chunks_sent == 20  # no retransmission at all


def test_probe_recovers_a_lost_tail_before_t3() -> None:
    """The last packets of a burst are lost: no SACK reports them missing, and before the
    probe timeout only T3 (RTO >= 200 ms) would resend them."""
    p = _Pair(LinkConfig(delay=0.002), 1)
    p.connect()
    for i in range(4):  # window-full bursts (I bit, no delayed SACK): an RTT of a few ms
        p.a.send(1, 53, bytes(64 * 1024), now=p.clock.now)
        assert p.run(lambda i=i: len(p.got) == i + 1, 5)
    srtt = p.a.srtt
    assert srtt is not None and srtt < 0.05
    p.got.clear()
    for i in range(6):
        p.a.send(1, 53, bytes([i]) * 1000, now=p.clock.now)
    burst = p.flush(p.a)
    assert len(burst) >= 3
    for pkt in burst[:-2]:
        p.link.send(0, pkt)  # the last two packets are lost
    t0 = p.clock.now
    assert p.run(lambda: len(p.got) == 6, 5)
    assert p.got == [bytes([i]) * 1000 for i in range(6)]
    assert p.clock.now - t0 < p.a.rto_min, f"{p.clock.now - t0:.3f}s"
