"""Several signaling servers sharing rooms: through a real redis-server, and in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from signaling_helpers import no_message, recv, recv_close, redis_server

from rtcpeer.signaling.rooms import MemoryBackplane, MemoryBus
from rtcpeer.signaling.server import ServerConfig, ServerHandle, run_server


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    async with redis_server() as url:
        yield url


async def two_servers_redis(url: str, **kwargs: object) -> tuple[ServerHandle, ServerHandle]:
    a = await run_server(config=ServerConfig(redis_url=url, server_id="A", **kwargs))  # type: ignore[arg-type]
    b = await run_server(config=ServerConfig(redis_url=url, server_id="B", **kwargs))  # type: ignore[arg-type]
    return a, b


async def check_shared_room(s1: ServerHandle, s2: ServerHandle) -> None:
    async with aiohttp.ClientSession() as http:
        alice = await http.ws_connect(f"{s1.ws_url}?room=shared&peer=alice")
        assert (await recv(alice))["polite"] is False
        bob = await http.ws_connect(f"{s2.ws_url}?room=shared&peer=bob")
        welcome = await recv(bob)
        assert (welcome["polite"], welcome["peers"], welcome["politeTo"]) == (
            True,
            ["alice"],
            ["alice"],
        )
        assert await recv(alice) == {"type": "joined", "peer": "bob"}
        carol = await http.ws_connect(f"{s2.ws_url}?room=shared&peer=carol")
        assert (await recv(carol))["peers"] == ["alice", "bob"]
        assert await recv(alice) == {"type": "joined", "peer": "carol"}
        assert await recv(bob) == {"type": "joined", "peer": "carol"}

        # broadcast across servers, once each, never back to the sender
        await alice.send_json({"description": {"type": "offer", "sdp": "x"}})
        assert await recv(bob) == {"description": {"type": "offer", "sdp": "x"}, "from": "alice"}
        assert await recv(carol) == {"description": {"type": "offer", "sdp": "x"}, "from": "alice"}
        await no_message(alice)
        await bob.send_json({"n": 1})
        assert await recv(alice) == {"n": 1, "from": "bob"}
        assert await recv(carol) == {"n": 1, "from": "bob"}
        await no_message(bob)
        # targeted, across and within a server
        await carol.send_json({"n": 2, "to": "alice"})
        assert await recv(alice) == {"n": 2, "to": "alice", "from": "carol"}
        await carol.send_json({"n": 3, "to": "bob"})
        assert await recv(bob) == {"n": 3, "to": "bob", "from": "carol"}
        await no_message(alice)
        await alice.send_json({"n": 4, "to": "carol"})
        assert await recv(carol) == {"n": 4, "to": "carol", "from": "alice"}
        await no_message(bob)

        # bob moves to the other server with his id: not a new join, old socket replaced
        bob2 = await http.ws_connect(f"{s1.ws_url}?room=shared&peer=bob")
        welcome = await recv(bob2)
        assert (welcome["polite"], welcome["peers"]) == (True, ["alice", "carol"])
        assert await recv_close(bob) == 4000
        await no_message(alice)
        await no_message(carol)
        await carol.send_json({"n": 5})
        assert await recv(bob2) == {"n": 5, "from": "carol"}
        assert await recv(alice) == {"n": 5, "from": "carol"}

        await carol.close()
        assert await recv(alice) == {"type": "left", "peer": "carol"}
        assert await recv(bob2) == {"type": "left", "peer": "carol"}
        for ws in (alice, bob2):
            await ws.close()


async def test_two_servers_share_a_room_through_redis(redis_url: str) -> None:
    s1, s2 = await two_servers_redis(redis_url)
    try:
        await check_shared_room(s1, s2)
    finally:
        await s1.close()
        await s2.close()


async def test_two_servers_share_a_room_in_process() -> None:
    plane = MemoryBackplane()
    s1 = await run_server(config=ServerConfig(bus=MemoryBus("A", plane), server_id="A"))
    s2 = await run_server(config=ServerConfig(bus=MemoryBus("B", plane), server_id="B"))
    try:
        await check_shared_room(s1, s2)
    finally:
        await s1.close()
        await s2.close()


async def test_room_limit_is_global_across_servers(redis_url: str) -> None:
    s1, s2 = await two_servers_redis(redis_url, max_room_size=2)
    try:
        async with aiohttp.ClientSession() as http:
            a = await http.ws_connect(f"{s1.ws_url}?room=lim&peer=a")
            await recv(a)
            b = await http.ws_connect(f"{s2.ws_url}?room=lim&peer=b")
            await recv(b)
            c = await http.ws_connect(f"{s1.ws_url}?room=lim&peer=c")
            assert await recv(c) == {"type": "error", "error": "room is full (2 peers)"}
            assert await recv_close(c) == 4409
            await a.close()
            await b.close()
    finally:
        await s1.close()
        await s2.close()


async def test_peers_of_a_dead_server_expire(redis_url: str) -> None:
    s1, s2 = await two_servers_redis(
        redis_url, membership_ttl=1.5
    )  # generous: refreshes may lag on a busy CI machine
    try:
        async with aiohttp.ClientSession() as http:
            alive = await http.ws_connect(f"{s1.ws_url}?room=ttl&peer=alive")
            await recv(alive)
            doomed = await http.ws_connect(f"{s2.ws_url}?room=ttl&peer=doomed")
            await recv(doomed)
            assert await recv(alive) == {"type": "joined", "peer": "doomed"}
            await asyncio.sleep(1.8)  # refreshed: still there after one TTL
            await no_message(alive)
            # Server 2 "dies": it stops refreshing and never says goodbye.
            refresher = s2.hub._refresher
            assert refresher is not None
            refresher.cancel()
            assert await recv(alive, timeout=5.0) == {"type": "left", "peer": "doomed"}
            newcomer = await http.ws_connect(f"{s1.ws_url}?room=ttl&peer=new")
            assert (await recv(newcomer))["peers"] == ["alive"]
            await alive.close()
            await newcomer.close()
    finally:
        await s1.close()
        await s2.close()
