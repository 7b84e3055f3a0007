"""PerfectNegotiation with the real RTCPeerConnection through the real signaling server.

Glare (both peers create a data channel, hence offer, at the same moment) resolves by the roles
the server assigns; an ICE failure (traffic dropped) makes the helper call ``restartIce()``, the
restart offer goes through the server and data flows again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from rtcpeer import RTCPeerConnection
from rtcpeer.signaling.client import SignalingChannel
from rtcpeer.signaling.negotiation import PerfectNegotiation
from rtcpeer.signaling.server import ServerHandle, run_server

pytestmark = pytest.mark.slow


@pytest.fixture
async def server() -> AsyncIterator[ServerHandle]:
    async with await run_server() as handle:
        yield handle


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def new_pc(ice_servers: list[dict[str, Any]]) -> RTCPeerConnection:
    return RTCPeerConnection({"iceServers": ice_servers, "includeLoopback": True})


class Watch:
    """Records what PerfectNegotiation decided for each incoming description."""

    def __init__(self, negotiation: PerfectNegotiation) -> None:
        self.ignored = 0
        self.offers_applied_while_offering = 0
        original = negotiation.handle

        async def spy(message: dict[str, Any]) -> None:
            description = message.get("description")
            collision = (
                isinstance(description, dict)
                and description.get("type") == "offer"
                and (negotiation.makingOffer or negotiation.pc.signalingState != "stable")
            )
            await original(message)
            if collision and negotiation.ignoreOffer:
                self.ignored += 1
            elif collision:
                self.offers_applied_while_offering += 1

        negotiation.handle = spy  # type: ignore[method-assign]


async def test_glare_between_two_real_peer_connections(server: ServerHandle) -> None:
    async with (
        SignalingChannel(server.url, "glare-real", "first") as first,
        SignalingChannel(server.url, "glare-real", "second") as second,
    ):
        pc1, pc2 = new_pc(first.ice_servers), new_pc(second.ice_servers)
        n1 = PerfectNegotiation(pc1, first, peer="second")
        n2 = PerfectNegotiation(pc2, second, peer="first")
        assert (n1.polite, n2.polite) == (False, True)
        w1, w2 = Watch(n1), Watch(n2)
        remote1: list[Any] = []
        remote2: list[Any] = []
        pc1.addEventListener("datachannel", lambda e: remote1.append(e.channel))
        pc2.addEventListener("datachannel", lambda e: remote2.append(e.channel))
        try:
            # Same tick: both fire negotiationneeded, both offers cross in the server.
            dc1 = pc1.createDataChannel("from-first")
            dc2 = pc2.createDataChannel("from-second")
            await until(lambda: dc1.readyState == "open" and dc2.readyState == "open")
            await until(lambda: remote1 and remote2 and remote1[0].readyState == "open")
            await until(lambda: remote2[0].readyState == "open")
            assert pc1.signalingState == pc2.signalingState == "stable"
            # It was glare, and the roles decided it: the impolite peer ignored the polite
            # peer's offer; the polite one rolled back and answered.
            # (which side sees the collision depends on timing: MDN's pattern sends
            # localDescription after an await, by then the polite side may hold its answer)
            assert w1.ignored + w2.offers_applied_while_offering >= 1
            assert w1.offers_applied_while_offering == 0 and w2.ignored == 0
            assert (remote1[0].label, remote2[0].label) == ("from-second", "from-first")
            got1: list[Any] = []
            got2: list[Any] = []
            remote1[0].addEventListener("message", lambda e: got1.append(e.data))
            remote2[0].addEventListener("message", lambda e: got2.append(e.data))
            dc1.send("hello from first")
            dc2.send("hello from second")
            await until(lambda: got1 and got2)
            assert (got1, got2) == (["hello from second"], ["hello from first"])
            assert not [e for e in n2.errors]
            assert all("candidate" in str(e).lower() for e in n1.errors), n1.errors
        finally:
            n1.close()
            n2.close()
            await pc1.close()
            await pc2.close()


async def test_ice_failure_restarts_ice_and_data_flows_again(server: ServerHandle) -> None:
    await _restart_after_failure(server, "restart-real", loopback_only=False)


async def test_ice_failure_on_a_single_path_restarts_ice(server: ServerHandle) -> None:
    """The same with one candidate pair (only 127.0.0.1 candidates are signalled)."""
    await _restart_after_failure(server, "restart-lo", loopback_only=True)


def _only_loopback_candidates(channel: SignalingChannel) -> None:
    """A network where only 127.0.0.1 is reachable: other candidates are never signalled."""
    send = channel.send

    async def filtered(message: dict[str, Any]) -> None:
        candidate = message.get("candidate")
        if isinstance(candidate, dict) and " 127.0.0.1 " not in candidate.get("candidate", ""):
            return
        description = message.get("description")
        if isinstance(description, dict) and "sdp" in description:
            lines = description["sdp"].split("\r\n")
            kept = [
                line
                for line in lines
                if not line.startswith("a=candidate:") or " 127.0.0.1 " in line
            ]
            message = {**message, "description": {**description, "sdp": "\r\n".join(kept)}}
        await send(message)

    channel.send = filtered  # type: ignore[method-assign]


async def _restart_after_failure(server: ServerHandle, room: str, *, loopback_only: bool) -> None:
    async with (
        SignalingChannel(server.url, room, "a") as sig_a,
        SignalingChannel(server.url, room, "b") as sig_b,
    ):
        if loopback_only:
            _only_loopback_candidates(sig_a)
            _only_loopback_candidates(sig_b)
        a, b = new_pc(sig_a.ice_servers), new_pc(sig_b.ice_servers)
        na = PerfectNegotiation(a, sig_a, peer="b")
        nb = PerfectNegotiation(b, sig_b, peer="a")
        remote: list[Any] = []
        b.addEventListener("datachannel", lambda e: remote.append(e.channel))
        states: list[str] = []
        a.addEventListener(
            "iceconnectionstatechange", lambda e: states.append(a.iceConnectionState)
        )
        try:
            dc = a.createDataChannel("chat")
            await until(lambda: dc.readyState == "open" and remote)
            got: list[Any] = []
            remote[0].addEventListener("message", lambda e: got.append(e.data))
            dc.send("before")
            await until(lambda: got == ["before"])
            ufrag_before = _ufrag(a)

            # Shorten a's RFC 7675 consent timeout (30 s) so the test is quick, then drop
            # every UDP datagram b sends (the ICE transport's test hook, as a firewall would):
            # a's consent expires and its ICE state goes to "failed".
            assert a._ice is not None and b._ice is not None
            a._ice.consent_timeout = 2.0
            b._ice.udp_blocked = True
            try:
                # (the event log, not the state: PerfectNegotiation restarts at once, so "failed"
                # may last less than a polling interval)
                await until(lambda: "failed" in states, 15)
            finally:
                b._ice.udp_blocked = False
            dc.send("after failure")
            # PerfectNegotiation saw "failed", called restartIce(); the restart offer went
            # through the server, new credentials, connectivity back, data flows.
            await until(lambda: na.restarts >= 1)
            await until(lambda: got == ["before", "after failure"], 30)
            await until(lambda: a.iceConnectionState in ("connected", "completed"))
            assert _ufrag(a) != ufrag_before
            assert "failed" in states
            assert a.signalingState == b.signalingState == "stable"
            dc.send("and more")
            await until(lambda: got[-1] == "and more")
            assert not nb.errors and not na.errors
        finally:
            na.close()
            nb.close()
            await a.close()
            await b.close()


def _ufrag(pc: RTCPeerConnection) -> str:
    description = pc.localDescription
    assert description is not None
    for line in description.sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1]
    raise AssertionError("no ufrag")
