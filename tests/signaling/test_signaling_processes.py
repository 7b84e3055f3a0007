"""Scale-out across two real ``rtcpeer serve`` processes sharing rooms through a real Redis.

One server process is SIGKILLed: rooms with a peer on the survivor live on, and a client of the
dead process reconnects (SignalingChannel backoff, next URL) to the survivor with its peer id.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from signaling_helpers import recv, redis_server, server_process

from rtcpeer.signaling.client import SignalingChannel

pytestmark = pytest.mark.slow


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    async with redis_server() as url:
        yield url


async def next_relayed(channel: SignalingChannel, timeout: float = 5.0) -> dict[str, Any]:
    """The next message of ``channel`` that a peer sent (skipping presence)."""

    async def first() -> dict[str, Any]:
        async for message in channel:
            if "from" in message:
                return message
        raise AssertionError("channel closed")

    return await asyncio.wait_for(first(), timeout)


async def test_rooms_survive_a_killed_server_process(redis_url: str) -> None:
    async with (
        server_process("--redis", redis_url) as a,
        server_process("--redis", redis_url) as b,
        aiohttp.ClientSession() as http,
    ):
        assert a.url != b.url
        alice = SignalingChannel(a.url, "survive", "alice", backoff_initial=0.05)
        # bob knows both servers: b first, a when b is gone
        bob = SignalingChannel([b.url, a.url], "survive", "bob", backoff_initial=0.05)
        reconnects: list[int] = []
        bob.addEventListener("reconnecting", lambda event: reconnects.append(event.code))
        async with alice, bob:
            assert (alice.polite, bob.polite, bob.peers) == (False, True, ["alice"])
            assert bob.url.startswith(b.ws_url.split("/ws")[0])
            # A raw watcher on b in another room: that room dies with b, it has no one elsewhere.
            lonely = await http.ws_connect(f"{b.ws_url}?room=lonely&peer=solo")
            assert (await recv(lonely))["type"] == "welcome"

            await alice.send({"description": {"type": "offer", "sdp": "v=0"}})
            got = await next_relayed(bob)
            assert got == {"description": {"type": "offer", "sdp": "v=0"}, "from": "alice"}
            await bob.send({"description": {"type": "answer", "sdp": "v=0"}})
            assert (await next_relayed(alice))["from"] == "bob"

            b.kill()
            await asyncio.wait_for(b.proc.wait(), 5)
            # bob's socket dies; it reconnects to a with the same id and role
            deadline = asyncio.get_running_loop().time() + 10
            while not (bob.connected and bob.url.startswith(a.ws_url.split("/ws")[0])):
                assert asyncio.get_running_loop().time() < deadline, "bob did not reconnect"
                await asyncio.sleep(0.02)
            assert reconnects and reconnects[0] == 1006
            assert bob.peer_id == "bob"
            assert bob.welcome is not None
            assert (bob.welcome["polite"], bob.welcome["peers"]) == (True, ["alice"])

            # The room lived on: messages flow both ways through a alone.
            await bob.send({"candidate": {"candidate": "c1", "sdpMid": "0"}})
            assert await next_relayed(alice) == {
                "candidate": {"candidate": "c1", "sdpMid": "0"},
                "from": "bob",
            }
            await alice.send({"n": 2, "to": "bob"})
            assert await next_relayed(bob) == {"n": 2, "to": "bob", "from": "alice"}
            # A newcomer on a sees both, in join order; alice saw no left/joined for bob.
            carol = await http.ws_connect(f"{a.ws_url}?room=survive&peer=carol")
            welcome = await recv(carol)
            assert welcome["peers"] == ["alice", "bob"]
            assert welcome["politeTo"] == ["alice", "bob"]
            seen: list[dict[str, Any]] = []
            async with asyncio.timeout(5):
                async for message in alice:
                    if message.get("type") in ("left", "joined"):
                        seen.append(message)
                    if message.get("peer") == "carol":
                        break
            assert seen == [{"type": "joined", "peer": "carol"}]
            await carol.close()
            # b's own client saw its server die
            closed = await lonely.receive(timeout=1)
            assert closed.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
