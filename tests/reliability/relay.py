"""A seeded, lossy UDP datagram relay on loopback, placed between two peer connections.

The relay owns two UDP sockets. ``port_a`` faces peer A: A is told (by rewriting B's ICE
candidates during signaling) that B lives at ``facing_a``; whatever A sends there is impaired and
forwarded from the other socket to B's real address, and the reverse. Each direction has its own
:class:`Impairment` and its own ``random.Random(seed)`` stream, so a run's drop/duplicate/delay
decisions depend only on the seed and on the order of the packets.

Impairments, in the order they apply to each datagram: drop above ``mtu``, tail drop when the rate limiter's queue
is longer than ``queue_limit`` seconds, random loss, duplication, then a delivery delay of
``delay + U(0, jitter)`` seconds on top of the rate limiter's serialisation time. Jitter larger
than the packet spacing reorders packets; ``reorder`` additionally holds back a fraction of
packets by ``reorder_delay``.

``rebind(side)`` simulates a NAT rebinding of the peer on the *other* side: the socket facing
``side`` is replaced by a new one on a new port, the old port is closed (datagrams sent there get
ICMP port unreachable, as from a NAT whose mapping expired).
"""

from __future__ import annotations

import asyncio
import random
import socket
from dataclasses import dataclass, field
from typing import cast

Addr = tuple[str, int]


@dataclass(slots=True)
class Impairment:
    """What one direction of the link does to datagrams."""

    loss: float = 0.0  # probability a datagram is dropped
    duplicate: float = 0.0  # probability a datagram is delivered twice
    reorder: float = 0.0  # probability a datagram is held back by reorder_delay
    reorder_delay: float = 0.004
    delay: float = 0.0  # fixed one-way delay, seconds
    jitter: float = 0.0  # extra uniform delay in [0, jitter)
    rate: float | None = None  # bytes per second; None = unlimited
    queue_limit: float = 0.25  # seconds of queued bytes before tail drop
    # Larger datagrams are dropped, as on a real path (Ethernet). The peers are on loopback,
    # where rtcpeer probes for 16 KiB SCTP packets; through the relay such probes get lost and
    # SCTP stays at its 1200-byte packets, like on the network the relay stands for.
    mtu: int | None = 1500


@dataclass(slots=True)
class LinkStats:
    received: int = 0
    forwarded: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    tail_dropped: int = 0
    too_big: int = 0
    foreign: int = 0  # datagrams from an address that is not the expected peer
    bytes: int = 0


@dataclass(slots=True)
class _Direction:
    impairment: Impairment
    rng: random.Random
    stats: LinkStats = field(default_factory=LinkStats)
    link_free_at: float = 0.0


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, relay: DatagramRelay, side: str, address: Addr) -> None:
        self.relay = relay
        self.side = side
        self.address = address
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.relay._received(self, data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors from a peer that went away: the relay keeps going


class DatagramRelay:
    """Two loopback sockets forwarding between peer A and peer B with impairments."""

    def __init__(
        self,
        a_to_b: Impairment | None = None,
        b_to_a: Impairment | None = None,
        seed: int = 1,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.seed = seed
        self.a_to_b = _Direction(a_to_b or Impairment(), random.Random(seed * 2 + 1))
        self.b_to_a = _Direction(b_to_a or Impairment(), random.Random(seed * 2 + 2))
        # Real addresses of the peers (set when their candidates are rewritten).
        self.target: dict[str, Addr | None] = {"a": None, "b": None}
        self._ep: dict[str, _Endpoint] = {}
        self._old: list[_Endpoint] = []
        self._handles: set[asyncio.TimerHandle] = set()
        self._closed = False
        self.rebinds = 0

    async def start(self) -> DatagramRelay:
        for side in ("a", "b"):
            self._ep[side] = await self._open(side)
        return self

    async def _open(self, side: str) -> _Endpoint:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.bind((self.host, 0))
        address = sock.getsockname()[:2]
        _, proto = await loop.create_datagram_endpoint(
            lambda: _Endpoint(self, side, address), sock=sock
        )
        return proto

    def facing(self, side: str) -> Addr:
        """The address peer ``side`` must send to (what it is told the other peer's is)."""
        return self._ep[side].address

    @property
    def stats(self) -> dict[str, LinkStats]:
        return {"a->b": self.a_to_b.stats, "b->a": self.b_to_a.stats}

    async def rebind(self, side: str) -> Addr:
        """Move the socket facing ``side`` to a new port; returns the new address."""
        old = self._ep[side]
        self._ep[side] = await self._open(side)
        if old.transport is not None:
            old.transport.close()
        self.rebinds += 1
        return self._ep[side].address

    def _received(self, ep: _Endpoint, data: bytes, addr: Addr) -> None:
        if self._closed or self._ep.get(ep.side) is not ep:
            return
        src, dst = ep.side, ("b" if ep.side == "a" else "a")
        direction = self.a_to_b if src == "a" else self.b_to_a
        direction.stats.received += 1
        expected = self.target[src]
        target = self.target[dst]
        if expected is None or (addr[0], addr[1]) != expected or target is None:
            direction.stats.foreign += 1
            return
        imp = direction.impairment
        if imp.mtu is not None and len(data) > imp.mtu:
            direction.stats.too_big += 1
            return
        rng = direction.rng
        loop = asyncio.get_running_loop()
        now = loop.time()
        # Rate limiter: a single FIFO link with tail drop.
        if imp.rate is not None:
            start = max(now, direction.link_free_at)
            if start - now > imp.queue_limit:
                direction.stats.tail_dropped += 1
                return
            direction.link_free_at = start + len(data) / imp.rate
            base = direction.link_free_at - now
        else:
            base = 0.0
        if imp.loss and rng.random() < imp.loss:
            direction.stats.dropped += 1
            return
        copies = 2 if imp.duplicate and rng.random() < imp.duplicate else 1
        if copies == 2:
            direction.stats.duplicated += 1
        for _ in range(copies):
            delay = base + imp.delay
            if imp.jitter:
                delay += rng.random() * imp.jitter
            if imp.reorder and rng.random() < imp.reorder:
                delay += imp.reorder_delay
                direction.stats.reordered += 1
            self._deliver_later(delay, dst, data, target, direction.stats)

    def _deliver_later(
        self, delay: float, dst: str, data: bytes, target: Addr, stats: LinkStats
    ) -> None:
        if delay <= 0:
            self._deliver(None, dst, data, target, stats)
            return
        loop = asyncio.get_running_loop()
        holder: list[asyncio.TimerHandle] = []
        handle = loop.call_later(delay, lambda: self._deliver(holder[0], dst, data, target, stats))
        holder.append(handle)
        self._handles.add(handle)

    def _deliver(
        self,
        handle: asyncio.TimerHandle | None,
        dst: str,
        data: bytes,
        target: Addr,
        stats: LinkStats,
    ) -> None:
        if handle is not None:
            self._handles.discard(handle)
        if self._closed:
            return
        ep = self._ep[dst]
        if ep.transport is None or ep.transport.is_closing():
            return
        ep.transport.sendto(data, target)
        stats.forwarded += 1
        stats.bytes += len(data)

    def close(self) -> None:
        self._closed = True
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        for ep in self._ep.values():
            if ep.transport is not None:
                ep.transport.close()
