"""SignalingChannel against the real server: welcome, roles, relay, iteration, reconnects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from signaling_helpers import free_port

from rtcpeer.errors import InvalidStateError
from rtcpeer.events import Event
from rtcpeer.signaling.client import SignalingChannel, SignalingError
from rtcpeer.signaling.server import ServerConfig, run_server


async def next_message(channel: SignalingChannel, timeout: float = 3.0) -> dict[str, Any]:
    iterator = aiter(channel)
    return await asyncio.wait_for(anext(iterator), timeout)


async def test_two_channels_roles_relay_and_presence() -> None:
    async with await run_server(config=ServerConfig(ice_servers=[{"urls": "stun:s:1"}])) as srv:
        async with SignalingChannel(srv.url, "room1", "alice") as alice:
            assert (alice.peer_id, alice.polite, alice.peers) == ("alice", False, [])
            assert alice.ice_servers == [{"urls": "stun:s:1"}]
            seen: list[dict[str, Any]] = []

            @alice.on("message")
            def on_message(event: Event) -> None:
                seen.append(event.data)

            async with SignalingChannel(srv.ws_url, "room1") as bob:
                assert bob.peer_id is not None and bob.peer_id != "alice"
                assert (bob.polite, bob.peers) == (True, ["alice"])
                assert bob.polite_toward("alice") is True
                assert await next_message(alice) == {"type": "joined", "peer": bob.peer_id}
                assert alice.peers == [bob.peer_id]
                assert alice.polite is False and alice.polite_toward(bob.peer_id) is False

                await bob.send({"description": {"type": "offer", "sdp": "v=0"}})
                assert await next_message(alice) == {
                    "description": {"type": "offer", "sdp": "v=0"},
                    "from": bob.peer_id,
                }
                await alice.send({"candidate": None, "to": bob.peer_id})
                assert await next_message(bob) == {
                    "candidate": None,
                    "to": bob.peer_id,
                    "from": "alice",
                }
                bob_id = bob.peer_id
            assert await next_message(alice) == {"type": "left", "peer": bob_id}
            assert alice.peers == []
            assert seen == [
                {"type": "joined", "peer": bob_id},
                {"description": {"type": "offer", "sdp": "v=0"}, "from": bob_id},
                {"type": "left", "peer": bob_id},
            ]
        with pytest.raises(InvalidStateError):
            await alice.send({"x": 1})


async def test_roles_follow_join_order_after_the_first_peer_leaves() -> None:
    async with await run_server() as srv:
        a = SignalingChannel(srv.url, "r", "a")
        await a.connect()
        b = SignalingChannel(srv.url, "r", "b")
        await b.connect()
        assert (a.polite, b.polite) == (False, True)
        await a.close()
        assert await next_message(b) == {"type": "left", "peer": "a"}
        assert b.polite is False  # now the oldest peer
        c = SignalingChannel(srv.url, "r", "c")
        await c.connect()
        assert (b.polite, c.polite) == (False, True)
        await b.close()
        await c.close()


async def test_reconnect_after_the_server_drops_the_socket() -> None:
    async with await run_server() as srv:
        async with (
            SignalingChannel(srv.url, "rc", "alice", backoff_initial=0.05) as alice,
            SignalingChannel(srv.url, "rc", "bob") as bob,
        ):
            assert await next_message(alice) == {"type": "joined", "peer": "bob"}
            reconnecting: list[int] = []
            opened = asyncio.Event()
            alice.addEventListener("reconnecting", lambda e: reconnecting.append(e.code))
            alice.addEventListener("open", lambda e: opened.set())
            ws = srv.hub.rooms["rc"]["alice"].ws
            assert ws is not None
            await ws.close(code=1012, message=b"service restart")
            await asyncio.wait_for(opened.wait(), 3.0)
            assert reconnecting == [1012]
            assert (alice.peer_id, alice.polite, alice.peers) == ("alice", False, ["bob"])
            await bob.send({"after": "reconnect"})
            assert await next_message(alice) == {"after": "reconnect", "from": "bob"}
            await alice.send({"back": True})
            assert await next_message(bob) == {"back": True, "from": "alice"}


async def test_reconnect_across_a_server_restart_buffers_sends() -> None:
    port = free_port()
    config = ServerConfig()
    srv = await run_server("127.0.0.1", port, config)
    alice = SignalingChannel(srv.url, "restart", "alice", backoff_initial=0.05, backoff_max=0.2)
    await alice.connect()
    opened = asyncio.Event()
    alice.addEventListener("open", lambda e: opened.set())
    await srv.close()  # 1001 to every client; the port is closed for a while
    await asyncio.sleep(0.3)
    assert alice.connected is False
    await alice.send({"while": "away"})  # buffered
    srv = await run_server("127.0.0.1", port, config)
    try:
        await asyncio.wait_for(opened.wait(), 3.0)
        assert alice.peer_id == "alice"
        async with SignalingChannel(srv.url, "restart", "bob") as bob:
            assert bob.peers == ["alice"]
            await alice.send({"now": "here"})
            assert await next_message(bob) == {"now": "here", "from": "alice"}
        await alice.close()
    finally:
        await srv.close()


async def test_buffered_send_reaches_peer_after_reconnect() -> None:
    async with await run_server() as srv:
        async with (
            SignalingChannel(srv.url, "buf", "bob") as bob,
            SignalingChannel(srv.url, "buf", "alice", backoff_initial=0.2) as alice,
        ):
            assert await next_message(bob) == {"type": "joined", "peer": "alice"}
            ws = srv.hub.rooms["buf"]["alice"].ws
            assert ws is not None
            await ws.close(code=1011)
            while alice.connected:
                await asyncio.sleep(0.01)
            await alice.send({"queued": 1})
            await alice.send({"queued": 2})
            assert await next_message(bob) == {"queued": 1, "from": "alice"}
            assert await next_message(bob) == {"queued": 2, "from": "alice"}


async def test_refusals_raise_with_the_server_reason() -> None:
    async with await run_server(config=ServerConfig(auth_token="tok", max_room_size=1)) as srv:
        with pytest.raises(SignalingError) as info:
            await SignalingChannel(srv.url, "r").connect()
        assert info.value.code == 4401
        assert info.value.message == "unauthorized: a valid token is required"
        async with SignalingChannel(srv.url, "r", token="tok") as first:
            assert first.connected
            with pytest.raises(SignalingError) as info:
                await SignalingChannel(srv.url, "r", token="tok").connect()
            assert (info.value.code, info.value.message) == (4409, "room is full (1 peers)")


async def test_connect_to_nothing_fails_fast() -> None:
    channel = SignalingChannel(f"ws://127.0.0.1:{free_port()}/ws", "r")
    with pytest.raises(SignalingError) as info:
        await asyncio.wait_for(channel.connect(), 3.0)
    assert info.value.code == 0
    assert info.value.message.startswith("cannot connect to ws://127.0.0.1:")


async def test_iteration_ends_on_close() -> None:
    async with await run_server() as srv:
        a = SignalingChannel(srv.url, "it", "a")
        await a.connect()
        b = SignalingChannel(srv.url, "it", "b")
        await b.connect()
        received: list[dict[str, Any]] = []

        async def consume() -> None:
            async for message in a:
                received.append(message)

        task = asyncio.create_task(consume())
        await b.send({"n": 1})
        await b.send({"n": 2})
        await b.close()
        while len(received) < 4:
            await asyncio.sleep(0.01)
        await a.close()
        await asyncio.wait_for(task, 2.0)
        assert received == [
            {"type": "joined", "peer": "b"},
            {"n": 1, "from": "b"},
            {"n": 2, "from": "b"},
            {"type": "left", "peer": "b"},
        ]
