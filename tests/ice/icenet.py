"""A two-agent test network for IceAgent over tests/netsim.LossyLink.

LossyLink carries plain bytes between endpoint 0 and 1; ICE needs source and destination
transport addresses. Each datagram travels in an envelope ``src|dst|payload``. An endpoint
owns a set of local addresses (the agent's ``local_key`` is the address itself) and optionally
a NAT mapping: its packets then appear to come from ``public`` and packets to ``public`` reach
its first socket, while its private addresses are unreachable from the other side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netsim import FakeClock, LinkConfig, LossyLink, run_until
from rtcpeer.ice.agent import IceAgent, IceEvent, IceState, IceStateChanged
from rtcpeer.ice.gather import host_candidate, local_preference
from rtcpeer.sdp.candidate import Candidate

Address = tuple[str, int]


def _pack(src: Address, dst: Address, data: bytes) -> bytes:
    return f"{src[0]}|{src[1]}|{dst[0]}|{dst[1]}|".encode() + data


def _unpack(raw: bytes) -> tuple[Address, Address, bytes]:
    parts = raw.split(b"|", 4)
    return (
        (parts[0].decode(), int(parts[1])),
        (parts[2].decode(), int(parts[3])),
        parts[4],
    )


@dataclass
class Endpoint:
    agent: IceAgent
    addresses: list[Address]
    public: Address | None = None  # NAT: what the other side sees
    received: list[bytes] = field(default_factory=list)
    states: list[IceState] = field(default_factory=list)
    state_times: dict[IceState, float] = field(default_factory=dict)  # first time reached
    events: list[IceEvent] = field(default_factory=list)
    blocked: bool = False  # drop everything (both directions) while set

    def timeout(self, now: float) -> None:
        self.agent.timeout(now)
        # Invariant: after timeout(now) the next deadline lies in the future, so a shell's
        # single timer can never spin.
        nxt = self.agent.next_timeout()
        assert nxt is None or nxt > now, (nxt, now)

    def next_timeout(self) -> float | None:
        return self.agent.next_timeout()

    def host_candidates(self) -> list[Candidate]:
        return [
            host_candidate(h, p, local_preference(i)) for i, (h, p) in enumerate(self.addresses)
        ]

    def add_own_candidates(self) -> list[Candidate]:
        cands = self.host_candidates()
        for cand, addr in zip(cands, self.addresses, strict=True):
            self.agent.add_local_candidate(cand, addr)
        self.agent.local_candidates_complete()
        return cands

    def drain_events(self, now: float) -> None:
        for ev in self.agent.events():
            self.events.append(ev)
            if isinstance(ev, IceStateChanged):
                self.states.append(ev.state)
                self.state_times.setdefault(ev.state, now)


class _Stopper:
    """A pseudo-endpoint whose only timer is the end of an ``advance`` window."""

    def __init__(self, at: float) -> None:
        self.at = at

    def timeout(self, now: float) -> None:
        pass

    def next_timeout(self) -> float | None:
        return self.at


class IceNet:
    def __init__(
        self, a: Endpoint, b: Endpoint, config: LinkConfig | None = None, start: float = 1000.0
    ) -> None:
        self.clock = FakeClock(start)
        self.link = LossyLink(self.clock, config or LinkConfig(delay=0.01, jitter=0.0))
        self.ends = [a, b]

    def _flush(self, ep: Endpoint) -> list[bytes]:
        out: list[bytes] = []
        if not isinstance(ep, Endpoint):
            return out
        ep.drain_events(self.clock.now)
        for data, key, dst in ep.agent.datagrams_to_send():
            if ep.blocked:
                continue
            src = key if ep.public is None else ep.public
            assert isinstance(src, tuple)
            out.append(_pack(src, dst, bytes(data)))
        return out

    def _deliver(self, ep: Endpoint, raw: bytes, now: float) -> None:
        if ep.blocked:
            return
        src, dst, data = _unpack(raw)
        if ep.public is not None:
            if dst != ep.public:
                return
            key = ep.addresses[0]
        elif dst in ep.addresses:
            key = dst
        else:
            return  # nobody listens there
        res = ep.agent.receive(data, key, src, now)
        if res is not None:
            ep.received.append(bytes(res))
        ep.drain_events(now)

    def run(self, done: object, max_time: float = 60.0, stop_at: float | None = None) -> bool:
        assert callable(done)
        ends: list[object] = list(self.ends)
        if stop_at is not None:
            ends.append(_Stopper(stop_at))
        ok = run_until(
            self.clock,
            self.link,
            ends,
            deliver=self._deliver,  # type: ignore[arg-type]
            flush=self._flush,  # type: ignore[arg-type]
            done=done,
            max_time=max_time,
        )
        for ep in self.ends:
            ep.drain_events(self.clock.now)
        return ok

    def advance(self, seconds: float) -> None:
        """Run for exactly ``seconds`` of fake time."""
        end = self.clock.now + seconds
        self.run(lambda: self.clock.now >= end, max_time=seconds + 1.0, stop_at=end)
        if self.clock.now < end:
            self.clock.now = end
            for ep in self.ends:
                t = ep.next_timeout()
                if t is not None and t <= end:
                    ep.timeout(end)
                ep.drain_events(end)


def exchange(a: Endpoint, b: Endpoint, *, end_of_candidates: bool = True) -> None:
    """Signal credentials and candidates both ways (as the SDP offer/answer would)."""
    a.agent.set_remote_credentials(b.agent.local_ufrag, b.agent.local_pwd)
    b.agent.set_remote_credentials(a.agent.local_ufrag, a.agent.local_pwd)
    for cand in b.host_candidates():
        a.agent.add_remote_candidate(cand)
    for cand in a.host_candidates():
        b.agent.add_remote_candidate(cand)
    if end_of_candidates:
        a.agent.add_remote_candidate(None)
        b.agent.add_remote_candidate(None)


def connected(*eps: Endpoint) -> bool:
    return all(
        ep.agent.state in (IceState.CONNECTED, IceState.COMPLETED)
        and ep.agent.selected_pair is not None
        for ep in eps
    )


def completed(*eps: Endpoint) -> bool:
    return all(ep.agent.state is IceState.COMPLETED for ep in eps)
