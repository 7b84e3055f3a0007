"""Perfect negotiation through the real signaling server, with the JSEP state machine faked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from signaling_fakepc import FakePC

from rtcpeer.signaling.client import SignalingChannel
from rtcpeer.signaling.negotiation import (
    PerfectNegotiation,
    candidate_to_json,
    description_to_json,
)
from rtcpeer.signaling.server import ServerHandle, run_server


@pytest.fixture
async def server() -> AsyncIterator[ServerHandle]:
    async with await run_server() as handle:
        yield handle


async def until(predicate: Any, timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def settled(a: FakePC, b: FakePC) -> bool:
    return (
        a.signalingState == b.signalingState == "stable"
        and a.negotiated_app()
        and b.negotiated_app()
        and a.currentLocal is not None
        and b.currentRemote is not None
        and a.currentLocal["sdp"] == b.currentRemote["sdp"]
    )


async def test_glare_is_resolved_by_the_roles_the_server_assigns(server: ServerHandle) -> None:
    async with (
        SignalingChannel(server.url, "glare", "first") as first,
        SignalingChannel(server.url, "glare", "second") as second,
    ):
        assert not first.polite and second.polite
        pc1, pc2 = FakePC("first"), FakePC("second")
        n1 = PerfectNegotiation(pc1, first, peer="second")
        n2 = PerfectNegotiation(pc2, second, peer="first")
        assert (n1.polite, n2.polite) == (False, True)
        seen_ignore: list[bool] = []
        original = n1.handle

        async def spy(message: dict[str, Any]) -> None:
            await original(message)
            seen_ignore.append(n1.ignoreOffer)

        n1.handle = spy  # type: ignore[method-assign]
        # Both sides want a channel at the same moment: both offer, the offers cross.
        pc1.createDataChannel("chat")
        pc2.createDataChannel("chat")
        await until(lambda: settled(pc1, pc2) and settled(pc2, pc1))
        await until(lambda: pc1.remote_candidates and pc2.remote_candidates)
        assert pc1.offers_made == 1 and pc2.offers_made == 1
        # The impolite peer ignored the colliding offer; the polite one rolled back.
        assert True in seen_ignore
        assert pc2.rollbacks == 1 and pc1.rollbacks == 0
        assert pc1.currentLocal is not None and pc1.currentLocal["type"] == "offer"
        # Candidates of the ignored offer failed quietly; nothing else went wrong.
        assert n2.errors == []
        assert all(not isinstance(e, AssertionError) for e in n1.errors)
        n1.close()
        n2.close()


async def test_one_sided_offer_and_trickle(server: ServerHandle) -> None:
    async with (
        SignalingChannel(server.url, "one", "a") as a,
        SignalingChannel(server.url, "one", "b") as b,
    ):
        pc_a, pc_b = FakePC("a"), FakePC("b")
        added: list[str] = []

        def before_answer() -> None:
            added.append(pc_a.signalingState)
            pc_a.createDataChannel("negotiated")

        n_a = PerfectNegotiation(pc_a, a, peer="b", before_answer=before_answer)
        n_b = PerfectNegotiation(pc_b, b, peer="a")
        pc_b.createDataChannel("chat")
        await until(lambda: settled(pc_b, pc_a))
        await until(lambda: len(pc_a.remote_candidates) == 2 and len(pc_b.remote_candidates) == 2)
        assert added == ["have-remote-offer"]
        assert pc_a.rollbacks == pc_b.rollbacks == 0
        assert pc_a.offers_made == 0 and pc_b.offers_made == 1
        assert n_a.errors == n_b.errors == []
        assert pc_a.remote_candidates == ["cand b0 0", "cand b0 1"]
        n_a.close()
        n_b.close()


async def test_ice_failure_restarts_ice(server: ServerHandle) -> None:
    async with (
        SignalingChannel(server.url, "restart", "a") as a,
        SignalingChannel(server.url, "restart", "b") as b,
    ):
        pc_a, pc_b = FakePC("a"), FakePC("b")
        n_a = PerfectNegotiation(pc_a, a, peer="b")
        n_b = PerfectNegotiation(pc_b, b, peer="a")
        pc_a.createDataChannel("chat")
        await until(lambda: settled(pc_a, pc_b))
        pc_b.fail_ice()
        assert n_b.restarts == 1
        await until(
            lambda: pc_a.remoteDescription is not None and "b1" in pc_a.remoteDescription["sdp"]
        )
        await until(lambda: "cand b1 1" in pc_a.remote_candidates)
        await until(lambda: pc_a.signalingState == pc_b.signalingState == "stable")
        assert pc_b.ufrag_generation == 1
        assert n_a.errors == n_b.errors == []
        # Without the option, failure is left to the application.
        n_a.close()
        quiet = PerfectNegotiation(pc_a, a, peer="b", restart_on_failure=False)
        pc_a.fail_ice()
        assert quiet.restarts == 0 and not pc_a.restart_pending
        quiet.close()
        n_b.close()


async def test_messages_from_other_peers_and_after_close_are_ignored(
    server: ServerHandle,
) -> None:
    async with (
        SignalingChannel(server.url, "filter", "a") as a,
        SignalingChannel(server.url, "filter", "b") as b,
        SignalingChannel(server.url, "filter", "c") as c,
    ):
        pc_a = FakePC("a")
        n_a = PerfectNegotiation(pc_a, a, peer="b")
        # c is not the peer this negotiation is about.
        await c.send(
            {"description": {"type": "offer", "sdp": json.dumps({"app": True, "ufrag": "c0"})}}
        )
        await b.send({"hello": 1})  # not a negotiation message
        await asyncio.sleep(0.1)
        assert pc_a.signalingState == "stable" and pc_a.remoteDescription is None
        n_a.close()
        await b.send(
            {"description": {"type": "offer", "sdp": json.dumps({"app": True, "ufrag": "b0"})}}
        )
        await asyncio.sleep(0.1)
        assert pc_a.remoteDescription is None
        assert n_a.errors == []


async def test_bad_descriptions_are_recorded_not_raised(server: ServerHandle) -> None:
    async with (
        SignalingChannel(server.url, "bad", "a") as a,
        SignalingChannel(server.url, "bad", "b") as b,
    ):
        pc_a = FakePC("a")
        n_a = PerfectNegotiation(pc_a, a)  # no peer: role from the channel, any sender
        assert n_a.polite is False
        await b.send({"description": {"type": "answer", "sdp": "{}"}})
        await b.send({"description": {"type": "pranswer?", "sdp": "{}"}})
        await b.send({"candidate": {"candidate": "cand x 0", "sdpMid": "0"}})
        await until(lambda: len(n_a.errors) == 3)
        await n_a.idle()
        assert pc_a.signalingState == "stable"
        n_a.close()


def test_json_helpers() -> None:
    class Desc:
        type = "offer"
        sdp = "v=0\r\n"

    class Cand:
        candidate = "candidate:1 1 udp 1 127.0.0.1 9 typ host"
        sdpMid = "0"
        sdpMLineIndex = 0
        usernameFragment = "u"

        def toJSON(self) -> dict[str, Any]:
            return {"candidate": self.candidate, "sdpMid": self.sdpMid}

    assert description_to_json(Desc()) == {"type": "offer", "sdp": "v=0\r\n"}
    assert description_to_json({"type": "answer", "sdp": "x", "junk": 1}) == {
        "type": "answer",
        "sdp": "x",
    }
    assert description_to_json(None) is None
    assert candidate_to_json(Cand()) == {"candidate": Cand.candidate, "sdpMid": "0"}
    assert candidate_to_json(None) is None
