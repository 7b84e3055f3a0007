"""Rooms created by the server only (``require_minted_rooms``): unknown rooms get a clear error."""

from __future__ import annotations

import aiohttp
from hypothesis import given, settings
from hypothesis import strategies as st
from signaling_helpers import no_message, recv, recv_close

from rtcpeer.signaling.server import ServerConfig, SignalingHub, run_server


async def test_unminted_rooms_are_refused_with_a_clear_error() -> None:
    config = ServerConfig(require_minted_rooms=True, room_secret="deployment-key")
    async with await run_server(config=config) as server, aiohttp.ClientSession() as http:
        async with http.post(server.url + "/rooms") as resp:
            room = (await resp.json())["room"]
        async with http.get(server.url + "/new", allow_redirects=False) as resp:
            other = resp.headers["Location"].split("room=", 1)[1]
        assert room != other and server.hub.is_minted(room) and server.hub.is_minted(other)

        alice = await http.ws_connect(f"{server.ws_url}?room={room}&peer=alice")
        assert (await recv(alice))["type"] == "welcome"
        # A made-up name, a truncated token and a token with its last character changed.
        flipped = room[:-1] + ("A" if room[-1] != "A" else "B")
        for bad in ("demo", room[:-1], flipped, room[:22] + "x" * 16):
            ws = await http.ws_connect(f"{server.ws_url}?room={bad}&peer=mallory")
            error = await recv(ws)
            assert error["type"] == "error"
            assert error["error"].startswith("unknown room")
            assert "POST /rooms" in error["error"]
            assert await recv_close(ws) == 4404
        # The refusals never touched the real room.
        await no_message(alice)
        bob = await http.ws_connect(f"{server.ws_url}?room={room}&peer=bob")
        assert (await recv(bob))["peers"] == ["alice"]
        assert await recv(alice) == {"type": "joined", "peer": "bob"}
        await bob.send_json({"hello": 1})
        assert await recv(alice) == {"hello": 1, "from": "bob"}
        await alice.close()
        await bob.close()


async def test_servers_sharing_the_secret_accept_each_others_rooms() -> None:
    one = ServerConfig(require_minted_rooms=True, room_secret="k1")
    same = ServerConfig(require_minted_rooms=True, room_secret="k1")
    different = ServerConfig(require_minted_rooms=True, room_secret="k2")
    async with (
        await run_server(config=one) as s1,
        await run_server(config=same) as s2,
        await run_server(config=different) as s3,
        aiohttp.ClientSession() as http,
    ):
        room = s1.hub.mint_room()
        ws = await http.ws_connect(f"{s2.ws_url}?room={room}")
        assert (await recv(ws))["type"] == "welcome"
        await ws.close()
        ws = await http.ws_connect(f"{s3.ws_url}?room={room}")
        assert (await recv(ws))["type"] == "error"
        assert await recv_close(ws) == 4404


async def test_without_the_option_any_room_name_works() -> None:
    async with await run_server() as server, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{server.ws_url}?room=demo")
        assert (await recv(ws))["type"] == "welcome"
        await ws.close()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"))
def test_random_room_names_are_never_taken_for_minted(room: str) -> None:
    hub = SignalingHub(ServerConfig(room_secret="s"))
    assert hub.is_minted(hub.mint_room())
    assert not hub.is_minted(room)
