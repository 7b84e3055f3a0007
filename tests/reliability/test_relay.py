"""The lossy relay itself: it forwards only between the two known peers, its impairments are
seeded, and it really drops, duplicates, reorders, rate-limits and enforces its MTU."""

from __future__ import annotations

import asyncio
import socket
import struct

from relay import DatagramRelay, Impairment


async def _run(relay: DatagramRelay, count: int, size: int = 100) -> list[int]:
    """Send ``count`` numbered datagrams from A to B through the relay; return what B got."""
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for s in (a, b):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
    relay.target["a"] = a.getsockname()
    relay.target["b"] = b.getsockname()
    got: list[int] = []

    def drain() -> None:
        while True:
            try:
                data = b.recv(65536)
            except BlockingIOError:
                return
            got.append(struct.unpack_from("!I", data)[0])

    try:
        for i in range(count):
            a.sendto(struct.pack("!I", i) + bytes(size - 4), relay.facing("a"))
            if i % 20 == 0:
                await asyncio.sleep(0)
                drain()
        for _ in range(25):
            await asyncio.sleep(0.02)
            drain()
    finally:
        a.close()
        b.close()
    return got


async def test_transparent_without_impairment() -> None:
    relay = await DatagramRelay().start()
    try:
        got = await _run(relay, 300)
    finally:
        relay.close()
    assert got == list(range(300))
    assert relay.stats["a->b"].forwarded == 300


async def test_impairments_are_applied_and_seeded() -> None:
    imp = Impairment(loss=0.2, duplicate=0.1, reorder=0.2, reorder_delay=0.01, jitter=0.001)
    runs = []
    for _ in range(2):
        relay = await DatagramRelay(imp, seed=42).start()
        try:
            got = await _run(relay, 1000)
        finally:
            relay.close()
        stats = relay.stats["a->b"]
        runs.append((stats.dropped, stats.duplicated, stats.reordered))
        assert 120 < stats.dropped < 280
        assert stats.duplicated > 40 and stats.reordered > 100
        assert len(got) == 1000 - stats.dropped + stats.duplicated
        assert got != sorted(got)  # reordered
        assert len(set(got)) == 1000 - stats.dropped
    assert runs[0] == runs[1]  # same seed, same decisions


async def test_rate_limit_tail_drop_and_mtu() -> None:
    imp = Impairment(rate=200_000, queue_limit=0.05, mtu=1000)
    relay = await DatagramRelay(imp).start()
    try:
        got = await _run(relay, 200, size=1000)  # 200 kB at once into a 10 kB queue
        big = await _run(relay, 5, size=1001)
    finally:
        relay.close()
    stats = relay.stats["a->b"]
    assert stats.tail_dropped > 50  # ~185 when the sender is not descheduled
    assert len(got) == 200 - stats.tail_dropped
    assert got == sorted(got)
    assert big == [] and stats.too_big == 5


async def test_foreign_senders_are_not_forwarded() -> None:
    relay = await DatagramRelay().start()
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    try:
        relay.target["a"] = ("127.0.0.1", 9)  # not the stranger
        relay.target["b"] = ("127.0.0.1", 9)
        stranger.sendto(b"hello", relay.facing("a"))
        await asyncio.sleep(0.05)
    finally:
        stranger.close()
        relay.close()
    assert relay.stats["a->b"].foreign == 1
    assert relay.stats["a->b"].forwarded == 0
