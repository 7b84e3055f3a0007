"""Full RTCPeerConnections in the NAT lab (tests/ice/natlab.py): one per host namespace.

Each peer connection lives on its own event loop, in a thread that entered the host's network
namespace for good (sockets belong to the namespace of the thread that creates them, and the
stack creates sockets lazily: TURN allocations, restarts). Signaling between the two peers is
in-process: each ``Peer`` is also the other's "signaler" for
``rtcpeer.signaling.negotiation.PerfectNegotiation`` (``addEventListener("message")``,
``await send(dict)``), every message JSON round-tripped and posted to the other loop, as a
signaling server would relay it. The embedded STUN/TURN server runs the same way in "pub".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "ice"))

from natlab import NatLab, available

from rtcpeer import RTCPeerConnection
from rtcpeer.signaling.negotiation import PerfectNegotiation
from rtcpeer.turnserver import TurnServer

__all__ = [
    "PUB",
    "STUN_SERVERS",
    "TURN_SERVERS",
    "NatLab",
    "NsLoop",
    "Peer",
    "available",
    "pair_types",
    "peers",
    "rebind_nat",
    "rebinding_scenario",
    "wait_until",
]

PUB = "198.51.100.1"
STUN_PORT = 3478
TURN_USER, TURN_PASSWORD = "lab", "lab-secret"
STUN_SERVERS = [{"urls": [f"stun:{PUB}:{STUN_PORT}"]}]
TURN_SERVERS = [
    {
        "urls": [f"turn:{PUB}:{STUN_PORT}?transport=udp"],
        "username": TURN_USER,
        "credential": TURN_PASSWORD,
    }
]


class NsLoop:
    """An event loop running in a thread that lives inside one namespace of the lab."""

    def __init__(self, lab: NatLab, ns: str) -> None:
        self.lab, self.ns = lab, ns
        self.loop = asyncio.new_event_loop()
        self._entered = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"netlab-{ns}", daemon=True)
        self._thread.start()
        self._entered.wait(10)
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            ctx = self.lab.inside(self.ns)
            ctx.__enter__()
        except BaseException as exc:
            self._error = exc
            self._entered.set()
            return
        self._entered.set()
        try:
            asyncio.set_event_loop(self.loop)
            self.loop.run_forever()
        finally:
            # Whatever is still pending (closing transports) gets one last chance to finish.
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()
            ctx.__exit__(None, None, None)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` (awaited if it returns an awaitable) on this loop."""

        async def run() -> Any:
            res = fn(*args)
            if asyncio.isfuture(res) or asyncio.iscoroutine(res):
                res = await res
            return res

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), self.loop))

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    async def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            await asyncio.to_thread(self._thread.join, 5.0)


class Peer:
    """One RTCPeerConnection on its own namespace loop, plus its side of the signaling."""

    def __init__(self, lab: NatLab, ns: str, polite: bool, config: dict[str, Any]) -> None:
        self.ns = ns
        self.polite = polite
        self.config = config
        self.ns_loop = NsLoop(lab, ns)
        self.remote: Peer | None = None
        self.sent: list[dict[str, Any]] = []  # signaling messages, as the other side got them
        self.received: list[Any] = []  # data channel messages, in arrival order
        self.received_at: list[float] = []  # monotonic arrival time of each
        self.states: list[tuple[float, str]] = []  # (monotonic time, connectionState)
        self.ice_states: list[tuple[float, str]] = []
        self.channel: Any = None
        self.pc: Any = None
        self.negotiation: PerfectNegotiation | None = None
        self.restart_on: tuple[str, ...] = ("failed",)
        self._listeners: list[Callable[[Any], Any]] = []

    # -- the signaler interface PerfectNegotiation uses ---------------------------------------

    def addEventListener(self, kind: str, fn: Callable[[Any], Any]) -> None:
        if kind == "message":
            self._listeners.append(fn)

    def removeEventListener(self, kind: str, fn: Callable[[Any], Any]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    async def send(self, message: dict[str, Any]) -> None:
        relayed = json.loads(json.dumps(message))
        self.sent.append(relayed)
        assert self.remote is not None
        self.remote.ns_loop.post(self.remote._deliver, relayed)

    def _deliver(self, message: dict[str, Any]) -> None:
        for fn in list(self._listeners):
            fn(SimpleNamespace(data=message, type="message"))

    # -- set-up, run on the peer's own loop -----------------------------------------------------

    async def start(self, restart_on: tuple[str, ...] = ("failed",)) -> None:
        self.restart_on = restart_on
        await self.ns_loop.call(self._setup)

    def _setup(self) -> None:
        pc = RTCPeerConnection(self.config)
        self.pc = pc

        def on_state(_: Any = None) -> None:
            self.states.append((time.monotonic(), pc.connectionState))

        def on_ice_state(_: Any = None) -> None:
            state = pc.iceConnectionState
            self.ice_states.append((time.monotonic(), state))
            # MDN's pattern ("failed" -> restartIce()), widened to "disconnected" when asked:
            # a rebound NAT is noticed after the agent's 6 s silence, not consent's 30 s.
            if state in self.restart_on and state != "failed":
                pc.restartIce()

        def on_channel(event: Any) -> None:
            self._wire_channel(event.channel)

        pc.addEventListener("connectionstatechange", on_state)
        pc.addEventListener("iceconnectionstatechange", on_ice_state)
        pc.addEventListener("datachannel", on_channel)
        self.negotiation = PerfectNegotiation(
            pc, self, polite=self.polite, restart_on_failure="failed" in self.restart_on
        )

    def _wire_channel(self, channel: Any) -> None:
        self.channel = channel

        def on_message(event: Any) -> None:
            self.received.append(event.data)
            self.received_at.append(time.monotonic())

        channel.addEventListener("message", on_message)

    async def open_channel(self, label: str = "lab") -> None:
        """Create the data channel here (starts negotiation)."""

        def create() -> None:
            self._wire_channel(self.pc.createDataChannel(label))

        await self.ns_loop.call(create)

    def send_data(self, data: str | bytes) -> None:
        self.ns_loop.post(self.channel.send, data)

    @property
    def connection_state(self) -> str:
        return str(self.pc.connectionState) if self.pc is not None else "new"

    @property
    def channel_open(self) -> bool:
        return self.channel is not None and self.channel.readyState == "open"

    def describe(self) -> str:
        """States, signaling and received count: what a failing lab test prints."""
        sent = [
            (m.get("description") or {}).get("type")
            or (m.get("candidate") or {}).get("candidate", "end-of-candidates")
            for m in self.sent
        ]
        errors = self.negotiation.errors if self.negotiation is not None else []
        return (
            f"{self.ns}: received {len(self.received)}; ice {[s for _, s in self.ice_states]}; "
            f"signalled {sent}; negotiation errors {errors}"
        )

    async def stats(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = await self.ns_loop.call(self.pc.getStats)
        return result

    def signalled_candidates(self) -> list[str]:
        """Candidate lines this peer signalled (trickled and in its descriptions)."""
        lines = [
            m["candidate"]["candidate"]
            for m in self.sent
            if isinstance(m.get("candidate"), dict) and m["candidate"].get("candidate")
        ]
        for m in self.sent:
            desc = m.get("description")
            if isinstance(desc, dict):
                lines += [
                    ln[2:] for ln in desc.get("sdp", "").splitlines() if ln.startswith("a=cand")
                ]
        return lines

    async def close(self) -> None:
        if self.pc is not None:

            async def shut() -> None:
                if self.negotiation is not None:
                    self.negotiation.close()
                task = self.pc.close()
                if task is not None:
                    await task

            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ns_loop.call(shut), 5.0)
        await self.ns_loop.stop()


async def pair_types(peer: Peer) -> tuple[dict[str, Any], dict[str, Any]]:
    """(local, remote) candidate stats of the selected pair, read through getStats()."""
    report = await peer.stats()
    transport = next(s for s in report.values() if s["type"] == "transport")
    pair = report[transport["selectedCandidatePairId"]]
    return report[pair["localCandidateId"]], report[pair["remoteCandidateId"]]


async def wait_until(pred: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``pred`` until true; the seconds it took. AssertionError naming ``what`` if not."""
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


@contextlib.asynccontextmanager
async def peers(
    nat_a: str,
    nat_b: str,
    config_a: dict[str, Any],
    config_b: dict[str, Any] | None = None,
    coturn_port: int = 0,
) -> AsyncIterator[tuple[NatLab, Peer, Peer, Any]]:
    """The lab with the embedded STUN/TURN server in "pub" and a peer per host.

    Yields ``(lab, a, b, coturn)``: ``a`` (hA, impolite) and ``b`` (hB, polite), not yet
    started; ``coturn`` is a running tests/ice/coturn.Coturn in "pub" when ``coturn_port``.
    Everything is torn down, namespaces included, whatever happens.
    """
    lab = NatLab(nat_a, nat_b)
    pub: NsLoop | None = None
    server: TurnServer | None = None
    coturn: Any = None
    made: list[Peer] = []
    try:
        lab.up()
        pub = NsLoop(lab, "pub")
        server = TurnServer(
            realm="netlab",
            users={TURN_USER: TURN_PASSWORD},
            listen=(PUB, STUN_PORT),
            relay_address=PUB,
            tcp=False,
        )
        await pub.call(server.start)
        if coturn_port:
            from coturn import Coturn

            coturn = Coturn(PUB, netns=lab.ns["pub"], port=coturn_port)
            await asyncio.to_thread(coturn.start)
        a = Peer(lab, "hA", False, config_a)
        made.append(a)
        b = Peer(lab, "hB", True, config_b if config_b is not None else config_a)
        made.append(b)
        a.remote, b.remote = b, a
        yield lab, a, b, coturn
    finally:
        for peer in reversed(made):
            with contextlib.suppress(Exception):
                await peer.close()
        if coturn is not None:
            with contextlib.suppress(Exception):
                coturn.stop()
        if pub is not None:
            if server is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pub.call(server.close), 5.0)
            await pub.stop()
        lab.down()


def rebind_nat(lab: NatLab, side: str, new_wan: str) -> None:
    """Give router ``side``'s WAN a new public address: every NAT mapping changes at once.

    Deleting the masquerading interface's address makes the kernel drop the conntrack
    entries it masqueraded (there is no conntrack tool in CI); packets still in flight to the
    old address are lost, like a home router that got a new address from its ISP, or a
    phone moving between networks.
    """
    import subprocess

    router = lab.ns[f"r{side}"]
    wan = f"w{side}{lab.tag}r"
    old = "198.51.100.2/24" if side == "A" else "203.0.113.2/24"
    gw = "198.51.100.1" if side == "A" else "203.0.113.1"
    for cmd in (
        ("ip", "addr", "del", old, "dev", wan),
        ("ip", "addr", "add", f"{new_wan}/24", "dev", wan),
        ("ip", "route", "replace", "default", "via", gw),
    ):
        subprocess.run(
            ("ip", "netns", "exec", router, *cmd), check=True, capture_output=True, timeout=10
        )


async def rebinding_scenario(nat_b: str) -> dict[str, float]:
    """A behind an endpoint-independent NAT, B behind ``nat_b``; rA's mappings all change.

    Both peers keep sending through the outage and restart ICE on "disconnected" (and
    "failed", through PerfectNegotiation). Asserts that every message arrives exactly once
    and in order, and that B's path now runs to A's new public address. Returns timings in
    seconds after the rebinding: first delivery of an outage message at each side, and all
    delivered.
    """
    async with peers("eim", nat_b, {"iceServers": STUN_SERVERS}) as (lab, a, b, _c):
        await a.start(restart_on=("disconnected", "failed"))
        await b.start(restart_on=("disconnected", "failed"))
        await a.open_channel()
        await wait_until(lambda: a.channel_open and b.channel_open, 10.0, "channel open")
        _, remote = await pair_types(b)
        assert remote["address"] == "198.51.100.2"
        n_before, n_during = 10, 40
        for i in range(n_before):
            a.send_data(f"a{i}")
            b.send_data(f"b{i}")
        await wait_until(
            lambda: len(a.received) == n_before and len(b.received) == n_before, 5.0, "before"
        )
        rebind_nat(lab, "A", "198.51.100.3")
        t0 = time.monotonic()
        # Keep talking through the outage: 40 messages each way over ~2 s.
        for i in range(n_before, n_before + n_during):
            a.send_data(f"a{i}")
            b.send_data(f"b{i}")
            await asyncio.sleep(0.05)
        total = n_before + n_during
        try:
            await wait_until(
                lambda: len(a.received) >= total and len(b.received) >= total, 12.0, "recovery"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{a.describe()}\n{b.describe()}") from None
        await asyncio.sleep(0.3)  # a duplicate would show up by now
        assert b.received == [f"a{i}" for i in range(total)]
        assert a.received == [f"b{i}" for i in range(total)]
        _, remote = await pair_types(b)
        assert remote["address"] == "198.51.100.3"
        assert a.connection_state == "connected" and b.connection_state == "connected"
        return {
            "first_at_a": a.received_at[n_before] - t0,
            "first_at_b": b.received_at[n_before] - t0,
            "all": max(a.received_at[-1], b.received_at[-1]) - t0,
            # Offers after the first one: ICE restarts negotiated by PerfectNegotiation.
            "restart_offers": float(
                sum((m.get("description") or {}).get("type") == "offer" for m in a.sent + b.sent)
                - 1
            ),
            "disconnects": float(sum(s == "disconnected" for _, s in a.ice_states + b.ice_states)),
            # 1.0 when A signalled a server-reflexive candidate of its new mapping.
            "new_srflx_signalled": float(
                any(" 198.51.100.3 " in c and " typ srflx" in c for c in a.signalled_candidates())
            ),
        }
