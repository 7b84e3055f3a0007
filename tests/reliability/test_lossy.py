"""Lossy networks end to end: two RTCPeerConnections whose every datagram crosses a relay that
drops, duplicates, reorders, delays and rate-limits (seeded). A reliable ordered channel must
deliver every byte exactly once and in order, and connection set-up must still succeed."""

from __future__ import annotations

import asyncio
import time

import pytest
from relay import Impairment
from relhelpers import Receiver, close_all, relayed_pair, send_stream


def lossy(loss: float) -> Impairment:
    return Impairment(
        loss=loss,
        duplicate=0.02,
        reorder=0.05,
        reorder_delay=0.004,
        delay=0.002,
        jitter=0.002,
        rate=40_000_000,
    )


async def transfer(loss: float, total: int, seed: int, timeout: float) -> dict[str, float]:
    t0 = time.monotonic()
    relay, a, b, dc, remote = await relayed_pair(lossy(loss), lossy(loss), seed=seed, timeout=45)
    setup = time.monotonic() - t0
    try:
        assert a.connectionState == "connected"
        count = (total + 16383) // 16384
        receiver = Receiver(remote, count)
        t1 = time.monotonic()
        sent, digest = await send_stream(dc, total)
        await asyncio.wait_for(receiver.done, timeout)
        elapsed = time.monotonic() - t1
        assert receiver.errors == []
        assert receiver.next_seq == sent == count
        assert receiver.bytes == total
        assert receiver.sha.hexdigest() == digest
        # Give late duplicates a moment: nothing more may arrive.
        await asyncio.sleep(0.05)
        assert receiver.next_seq == count and receiver.errors == []
        stats = relay.stats
        # The relay really impaired the traffic in both directions.
        for link in stats.values():
            assert link.forwarded > 0
        if loss:
            assert stats["a->b"].dropped > 0 and stats["b->a"].dropped > 0
            assert stats["a->b"].duplicated > 0 and stats["a->b"].reordered > 0
        return {"setup": setup, "transfer": elapsed}
    finally:
        await close_all(a, b)
        relay.close()


async def test_relay_without_impairment_is_transparent() -> None:
    result = await transfer(0.0, 512 * 1024, seed=3, timeout=10)
    assert result["transfer"] < 10


# CI sizes; `python -m tests.reliability.longrun lossy` runs 2 MiB at both loss rates.
@pytest.mark.parametrize(
    ("loss", "seed", "total"), [(0.05, 11, 1024 * 1024), (0.20, 12, 192 * 1024)]
)
async def test_reliable_channel_over_lossy_link(loss: float, seed: int, total: int) -> None:
    result = await transfer(loss, total, seed=seed, timeout=45)
    print(f"loss {loss:.0%}: setup {result['setup']:.2f}s transfer {result['transfer']:.2f}s")


async def test_rate_limited_link_with_a_short_queue() -> None:
    """A 2 MB/s bottleneck with 20 ms of queue: SCTP's congestion control overruns it, the
    relay tail-drops, and the channel still delivers everything exactly once, in order."""
    imp = Impairment(rate=2_000_000, queue_limit=0.02, delay=0.005)
    relay, a, b, dc, remote = await relayed_pair(imp, Impairment(delay=0.005), seed=21)
    try:
        total = 1024 * 1024
        receiver = Receiver(remote, total // 16384)
        t0 = time.monotonic()
        _, digest = await send_stream(dc, total)
        await asyncio.wait_for(receiver.done, 30)
        elapsed = time.monotonic() - t0
        assert receiver.errors == [] and receiver.bytes == total
        assert receiver.sha.hexdigest() == digest
        assert elapsed > total / 2_000_000 * 0.9  # the bottleneck really was one
        print(f"2 MB/s bottleneck: {elapsed:.2f}s, tail drops {relay.stats['a->b'].tail_dropped}")
    finally:
        await close_all(a, b)
        relay.close()
