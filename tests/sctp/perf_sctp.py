"""Throughput of the sans-I/O SCTP core (not collected by pytest: no ``test_`` prefix).

Two associations (no DTLS) in one process:

- core mode: a lossless, zero-delay in-memory link driven by a fake clock; the figures are CPU
  time (``time.process_time``) for both endpoints together, so they measure the protocol core;
- ``--asyncio``: the same over an asyncio in-memory pipe (``loop.call_soon`` per batch of
  packets, real ``loop.time()`` timers), reported as wall-clock rates, like a real shell.

Run: ``.venv/bin/python tests/sctp/perf_sctp.py [--profile] [--asyncio] [--idata]``
(``--idata``: both ends offer RFC 8260 I-DATA, core mode only).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import random
import sys
import time

from rtcpeer.sctp.association import Association, DataReceived


def _pair() -> tuple[Association, Association, list[float]]:
    now = [1000.0]
    idata = "--idata" in sys.argv
    a = Association(True, rng=random.Random(1), interleaving=idata)
    b = Association(False, rng=random.Random(2), interleaving=idata)
    a.connect(now[0])
    b.connect(now[0])
    _pump(a, b, now, lambda: a.state.value == b.state.value == "established")
    a.events()
    b.events()
    return a, b, now


def _pump(a: Association, b: Association, now: list[float], done: object) -> None:
    assert callable(done)
    idle = 0
    while not done():
        moved = False
        for src, dst in ((a, b), (b, a)):
            pkts = src.packets_to_send()
            if pkts:
                moved = True
                for p in pkts:
                    dst.receive(p, now[0])
        if not moved:
            idle += 1
            now[0] += 0.001
            for ep in (a, b):
                t = ep.next_timeout()
                if t is not None and t <= now[0]:
                    ep.timeout(now[0])
            if idle > 10_000_000:
                raise RuntimeError("no progress")


def bulk(total: int = 64 * 1024 * 1024, size: int = 64 * 1024) -> tuple[float, float]:
    a, b, now = _pair()
    msg = bytes(size)
    count = total // size
    got = [0]

    def done() -> bool:
        for e in b.events():
            if isinstance(e, DataReceived):
                got[0] += len(e.data)
        return got[0] >= total

    start = time.process_time()
    sent = 0
    # Keep a bounded backlog like an application with a bufferedAmount threshold would.
    while sent < count:
        while sent < count and a.buffered_amount(1) < 1024 * 1024:
            a.send(1, 53, msg)
            sent += 1
        target = got[0] + 512 * 1024

        def step(target: int = target) -> bool:
            return done() or got[0] >= target

        _pump(a, b, now, step)
    _pump(a, b, now, done)
    cpu = time.process_time() - start
    return total / cpu / 1e6, cpu


def small(count: int = 100_000, size: int = 64) -> tuple[float, float]:
    a, b, now = _pair()
    msg = bytes(size)
    got = [0]

    def done() -> bool:
        got[0] += sum(1 for e in b.events() if isinstance(e, DataReceived))
        return got[0] >= count

    start = time.process_time()
    for _ in range(count):
        a.send(1, 53, msg)
    _pump(a, b, now, done)
    cpu = time.process_time() - start
    return count / cpu, cpu


class _AioEndpoint:
    """Drives one association from an event loop: one timer, packets batched per callback."""

    def __init__(self, assoc: Association, loop: asyncio.AbstractEventLoop) -> None:
        self.assoc = assoc
        self.loop = loop
        self.peer: _AioEndpoint | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.on_events: object = None

    def deliver(self, pkts: list[bytes]) -> None:
        now = self.loop.time()
        for p in pkts:
            self.assoc.receive(p, now)
        self.flush()

    def flush(self) -> None:
        pkts = self.assoc.packets_to_send()
        if pkts and self.peer is not None:
            self.loop.call_soon(self.peer.deliver, pkts)
        if callable(self.on_events):
            self.on_events(self.assoc.events())
        t = self.assoc.next_timeout()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if t is not None:
            self.timer = self.loop.call_at(t, self.fire)

    def fire(self) -> None:
        self.timer = None
        self.assoc.timeout(self.loop.time())
        self.flush()


async def _aio_run(total: int, count: int) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    ea = _AioEndpoint(Association(True, rng=random.Random(1)), loop)
    eb = _AioEndpoint(Association(False, rng=random.Random(2)), loop)
    ea.peer, eb.peer = eb, ea
    got = [0, 0]
    target = [0, 0]
    done = asyncio.Event()

    def on_b(events: list[object]) -> None:
        for e in events:
            if isinstance(e, DataReceived):
                got[0] += len(e.data)
                got[1] += 1
        if got[0] >= target[0] and got[1] >= target[1]:
            done.set()

    eb.on_events = on_b
    ea.assoc.connect(loop.time())
    eb.assoc.connect(loop.time())
    ea.flush()
    eb.flush()
    while ea.assoc.state.value != "established" or eb.assoc.state.value != "established":
        await asyncio.sleep(0.001)
    msg = bytes(64 * 1024)
    target[:] = [total, 0]
    done.clear()
    t0 = time.perf_counter()
    sent = 0
    while sent < total:
        while sent < total and ea.assoc.buffered_amount(1) < 1024 * 1024:
            ea.assoc.send(1, 53, msg)
            sent += len(msg)
        ea.flush()
        await asyncio.sleep(0)
    await done.wait()
    bulk = total / (time.perf_counter() - t0) / 1e6
    got[:] = [0, 0]
    target[:] = [0, count]
    done.clear()
    small = bytes(64)
    t0 = time.perf_counter()
    for i in range(count):
        ea.assoc.send(1, 53, small)
        if i % 1000 == 999:
            ea.flush()
            await asyncio.sleep(0)
    ea.flush()
    await done.wait()
    rate = count / (time.perf_counter() - t0)
    for ep in (ea, eb):
        if ep.timer is not None:
            ep.timer.cancel()
    return bulk, rate


def main() -> None:
    if "--asyncio" in sys.argv:
        bulk_mbps, rate = asyncio.run(_aio_run(64 * 1024 * 1024, 100_000))
        print(f"asyncio bulk: 64 MiB as 64 KiB messages: {bulk_mbps:.1f} MB/s wall")
        print(f"asyncio small: 100k 64-byte messages: {rate:,.0f} msg/s wall")
        return
    prof = "--profile" in sys.argv
    p = cProfile.Profile() if prof else None
    if p:
        p.enable()
    mbps, cpu = bulk()
    print(f"bulk: 64 MiB as 64 KiB messages: {mbps:.1f} MB/s of CPU ({cpu:.2f} s)")
    rate, cpu = small()
    print(f"small: 100k 64-byte messages: {rate:,.0f} msg/s of CPU ({cpu:.2f} s)")
    if p:
        p.disable()
        pstats.Stats(p).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
