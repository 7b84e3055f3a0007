"""An in-process network for sans-I/O tests: a fake clock and a seeded lossy datagram link.

``LossyLink`` carries datagrams between two endpoints with a deterministic pattern of loss,
duplication, reordering (extra random delay) and fixed delay, all driven by a ``FakeClock``.
Cores never read the clock; tests pump the link and the cores' timers through ``run_until``.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class LinkConfig:
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0  # probability that a datagram gets extra random delay
    delay: float = 0.005  # one-way delay, seconds
    jitter: float = 0.010  # maximum extra delay for a reordered datagram
    seed: int = 1
    rate_bytes_per_s: float | None = None  # serialisation rate limit, None for unlimited
    mtu: int | None = None  # drop datagrams larger than this


@dataclass(order=True)
class _InFlight:
    at: float
    seq: int
    to: int = field(compare=False)
    data: bytes = field(compare=False)


class LossyLink:
    """A bidirectional link between endpoint 0 and endpoint 1."""

    def __init__(self, clock: FakeClock, config: LinkConfig | None = None) -> None:
        self.clock = clock
        self.config = config or LinkConfig()
        self.rng = random.Random(self.config.seed)
        self._queue: list[_InFlight] = []
        self._seq = 0
        self._busy_until = [clock.now, clock.now]
        self.sent = [0, 0]
        self.dropped = [0, 0]
        self.delivered = [0, 0]

    def send(self, frm: int, data: bytes) -> None:
        cfg = self.config
        self.sent[frm] += 1
        if cfg.mtu is not None and len(data) > cfg.mtu:
            self.dropped[frm] += 1
            return
        if self.rng.random() < cfg.loss:
            self.dropped[frm] += 1
            return
        copies = 2 if self.rng.random() < cfg.duplicate else 1
        start = self.clock.now
        if cfg.rate_bytes_per_s:
            start = max(start, self._busy_until[frm])
            self._busy_until[frm] = start + len(data) / cfg.rate_bytes_per_s
        for _ in range(copies):
            at = start + cfg.delay
            if self.rng.random() < cfg.reorder:
                at += self.rng.random() * cfg.jitter
            self._seq += 1
            heapq.heappush(self._queue, _InFlight(at, self._seq, 1 - frm, bytes(data)))

    def next_delivery(self) -> float | None:
        return self._queue[0].at if self._queue else None

    def deliver_due(self) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        while self._queue and self._queue[0].at <= self.clock.now:
            item = heapq.heappop(self._queue)
            self.delivered[item.to] += 1
            out.append((item.to, item.data))
        return out


def run_until(
    clock: FakeClock,
    link: LossyLink,
    endpoints: list[Any],
    *,
    deliver: Callable[[Any, bytes, float], None],
    flush: Callable[[Any], list[bytes]],
    done: Callable[[], bool],
    max_time: float = 60.0,
) -> bool:
    """Drive two sans-I/O endpoints over ``link`` until ``done()`` or ``max_time`` fake seconds.

    ``deliver(endpoint, data, now)`` hands a datagram to a core; ``flush(endpoint)`` returns the
    datagrams the core wants to send. Each endpoint must offer ``timeout(now)`` and
    ``next_timeout()``.
    """
    deadline = clock.now + max_time
    while clock.now <= deadline:
        for i, ep in enumerate(endpoints):
            for data in flush(ep):
                link.send(i, data)
        if done():
            return True
        for to, data in link.deliver_due():
            deliver(endpoints[to], data, clock.now)
        progressed = False
        for i, ep in enumerate(endpoints):
            for data in flush(ep):
                link.send(i, data)
                progressed = True
        if progressed or link.next_delivery() is not None and link.next_delivery() <= clock.now:
            continue
        candidates = [t for t in (ep.next_timeout() for ep in endpoints) if t is not None]
        nd = link.next_delivery()
        if nd is not None:
            candidates.append(nd)
        if not candidates:
            return done()
        nxt = min(candidates)
        if nxt > clock.now:
            clock.now = nxt
        for ep in endpoints:
            t = ep.next_timeout()
            if t is not None and t <= clock.now:
                ep.timeout(clock.now)
    return done()
