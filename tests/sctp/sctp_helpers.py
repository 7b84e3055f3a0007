"""Helpers for the SCTP tests: two associations over a seeded LossyLink."""

from __future__ import annotations

import random
from typing import Any

from netsim import FakeClock, LinkConfig, LossyLink, run_until
from rtcpeer.sctp.association import Association, DataReceived, Event
from rtcpeer.sctp.channels import ChannelEvent, DataChannelCore


class Pair:
    """Two associations (0 = DTLS client, 1 = server) joined by a LossyLink."""

    def __init__(self, config: LinkConfig | None = None, seed: int = 7, **kwargs: Any) -> None:
        self.clock = FakeClock()
        self.link = LossyLink(self.clock, config or LinkConfig())
        self.a = Association(True, rng=random.Random(seed), **kwargs)
        self.b = Association(False, rng=random.Random(seed + 1), **kwargs)
        self.eps = [self.a, self.b]
        self.ev: list[list[Event]] = [[], []]
        self.rx: list[list[DataReceived]] = [[], []]
        self.record = False
        self.sent_packets: list[list[bytes]] = [[], []]

    def flush(self, ep: Association) -> list[bytes]:
        pkts = ep.packets_to_send()
        if self.record:
            self.sent_packets[self.eps.index(ep)].extend(pkts)
        return pkts

    def collect(self) -> None:
        for i, ep in enumerate(self.eps):
            evs = ep.events()
            self.ev[i].extend(evs)
            self.rx[i].extend(e for e in evs if isinstance(e, DataReceived))

    def run(self, done: Any = None, max_time: float = 60.0) -> bool:
        def check() -> bool:
            self.collect()
            return bool(done()) if done is not None else False

        return run_until(
            self.clock,
            self.link,
            self.eps,
            deliver=lambda ep, data, now: ep.receive(data, now),
            flush=self.flush,
            done=check,
            max_time=max_time,
        )

    def connect(self, both: bool = True, max_time: float = 60.0) -> bool:
        self.a.connect(self.clock.now)
        if both:
            self.b.connect(self.clock.now)
        return self.run(
            lambda: self.a.state.value == "established" and self.b.state.value == "established",
            max_time,
        )

    def received(self, i: int) -> list[DataReceived]:
        return self.rx[i]


class ChannelPair:
    """Two DataChannelCores (0 = DTLS client, 1 = DTLS server) over a LossyLink."""

    def __init__(
        self,
        config: LinkConfig | None = None,
        seed: int = 7,
        core_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.clock = FakeClock()
        self.link = LossyLink(self.clock, config or LinkConfig())
        ck = core_kwargs or {}
        self.a = DataChannelCore(Association(True, rng=random.Random(seed), **kwargs), True, **ck)
        self.b = DataChannelCore(
            Association(False, rng=random.Random(seed + 1), **kwargs), False, **ck
        )
        self.eps = [self.a, self.b]
        self.ev: list[list[ChannelEvent]] = [[], []]

    def collect(self) -> None:
        for i, ep in enumerate(self.eps):
            self.ev[i].extend(ep.events())

    def run(self, done: Any = None, max_time: float = 60.0) -> bool:
        def check() -> bool:
            self.collect()
            return bool(done()) if done is not None else False

        return run_until(
            self.clock,
            self.link,
            self.eps,
            deliver=lambda ep, data, now: ep.receive(data, now),
            flush=lambda ep: ep.packets_to_send(),
            done=check,
            max_time=max_time,
        )

    def connect(self, max_time: float = 30.0) -> bool:
        self.a.connect(self.clock.now)
        self.b.connect(self.clock.now)
        return self.run(lambda: self.a.connected and self.b.connected, max_time)

    def of(self, i: int, kind: type) -> list[Any]:
        return [e for e in self.ev[i] if isinstance(e, kind)]
