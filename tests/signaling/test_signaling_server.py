"""The signaling server over real loopback WebSockets: rooms, relay, presence, limits, auth."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from signaling_helpers import no_message, recv, recv_close

from rtcpeer.signaling.server import ServerHandle, run_server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def start(**kwargs: object) -> ServerHandle:
    return await run_server("127.0.0.1", 0, **kwargs)


def url(server: ServerHandle, room: str, peer: str | None = None, **extra: str) -> str:
    query = f"room={room}" + (f"&peer={peer}" if peer else "")
    for key, value in extra.items():
        query += f"&{key}={value}"
    return f"{server.ws_url}?{query}"


async def test_join_roles_relay_and_presence(session: aiohttp.ClientSession) -> None:
    async with await start() as server:
        a = await session.ws_connect(url(server, "r1", "alice"))
        wa = await recv(a)
        assert wa == {
            "type": "welcome",
            "peer": "alice",
            "room": "r1",
            "polite": False,
            "peers": [],
            "politeTo": [],
            "iceServers": [],
        }
        b = await session.ws_connect(url(server, "r1"))
        wb = await recv(b)
        bob = wb["peer"]
        assert isinstance(bob, str) and len(bob) == 12
        assert (wb["polite"], wb["peers"], wb["politeTo"]) == (True, ["alice"], ["alice"])
        assert await recv(a) == {"type": "joined", "peer": bob}

        await a.send_json({"description": {"type": "offer", "sdp": "v=0\r\n"}})
        assert await recv(b) == {
            "description": {"type": "offer", "sdp": "v=0\r\n"},
            "from": "alice",
        }
        await b.send_json({"candidate": {"candidate": "", "sdpMid": "0"}, "from": "spoofed"})
        assert await recv(a) == {"candidate": {"candidate": "", "sdpMid": "0"}, "from": bob}

        c = await session.ws_connect(url(server, "r1", "carol"))
        wc = await recv(c)
        assert (wc["polite"], wc["peers"], wc["politeTo"]) == (True, ["alice", bob], ["alice", bob])
        assert await recv(a) == {"type": "joined", "peer": "carol"}
        assert await recv(b) == {"type": "joined", "peer": "carol"}

        # "to" reaches exactly one peer
        await c.send_json({"hello": 1, "to": "alice"})
        assert await recv(a) == {"hello": 1, "to": "alice", "from": "carol"}
        await no_message(b)
        await c.send_json({"hello": 2, "to": "nobody"})
        assert await recv(c) == {"type": "error", "error": "no peer 'nobody' in this room"}

        # a different room hears nothing
        d = await session.ws_connect(url(server, "r2", "dave"))
        assert (await recv(d))["peers"] == []
        await a.send_json({"x": 1})
        assert await recv(b) == {"x": 1, "from": "alice"}
        assert await recv(c) == {"x": 1, "from": "alice"}
        await no_message(d)

        await b.close()  # a clean close (1000): left at once
        assert await recv(a) == {"type": "left", "peer": bob}
        assert await recv(c) == {"type": "left", "peer": bob}
        await c.send_json({"type": "leave"})
        assert await recv_close(c) == 1000
        assert await recv(a) == {"type": "left", "peer": "carol"}
        for ws in (a, d):
            await ws.close()


async def test_reconnect_same_peer_id_replaces_socket(session: aiohttp.ClientSession) -> None:
    async with await start() as server:
        a = await session.ws_connect(url(server, "room", "alice"))
        await recv(a)
        b = await session.ws_connect(url(server, "room", "bob"))
        await recv(b)
        assert await recv(a) == {"type": "joined", "peer": "bob"}

        a2 = await session.ws_connect(url(server, "room", "alice"))
        welcome = await recv(a2)
        assert (welcome["peer"], welcome["polite"], welcome["peers"]) == ("alice", False, ["bob"])
        assert await recv_close(a) == 4000
        await no_message(b)  # neither left nor joined
        await b.send_json({"n": 1})
        assert await recv(a2) == {"n": 1, "from": "bob"}

        # the younger peer keeps its polite role across a reconnect too
        b2 = await session.ws_connect(url(server, "room", "bob"))
        assert (await recv(b2))["polite"] is True
        assert await recv_close(b) == 4000
        await no_message(a2)
        await a2.close()
        assert await recv(b2) == {"type": "left", "peer": "alice"}
        await b2.close()


async def test_messages_wait_for_a_peer_within_the_grace_period(
    session: aiohttp.ClientSession,
) -> None:
    async with await start(reconnect_grace=0.5) as server:
        a = await session.ws_connect(url(server, "g", "alice"))
        await recv(a)
        b = await session.ws_connect(url(server, "g", "bob"))
        await recv(b)
        await recv(a)
        # Drop bob's socket without a close frame, like a network failure.
        transport = b._response.connection.transport  # type: ignore[union-attr]
        assert transport is not None
        transport.abort()
        await asyncio.sleep(0.1)
        await a.send_json({"queued": True})
        await no_message(a)
        b2 = await session.ws_connect(url(server, "g", "bob"))
        assert (await recv(b2))["type"] == "welcome"
        assert await recv(b2) == {"queued": True, "from": "alice"}
        await no_message(a)
        # ...and after the grace period a vanished peer is announced as gone.
        transport = b2._response.connection.transport  # type: ignore[union-attr]
        assert transport is not None
        transport.abort()
        start_time = time.monotonic()
        assert await recv(a) == {"type": "left", "peer": "bob"}
        assert 0.4 < time.monotonic() - start_time < 1.5
        await a.close()


async def test_room_size_limit(session: aiohttp.ClientSession) -> None:
    async with await start(max_room_size=2) as server:
        a = await session.ws_connect(url(server, "small", "a"))
        await recv(a)
        b = await session.ws_connect(url(server, "small", "b"))
        await recv(b)
        c = await session.ws_connect(url(server, "small", "c"))
        assert await recv(c) == {"type": "error", "error": "room is full (2 peers)"}
        assert await recv_close(c) == 4409
        # a reconnecting member is not a new join and still gets in
        a2 = await session.ws_connect(url(server, "small", "a"))
        assert (await recv(a2))["type"] == "welcome"
        await no_message(b)  # no "joined" for c, nothing for a's reconnect
        for ws in (a2, b):
            await ws.close()


async def test_bad_input_errors_and_disconnect(session: aiohttp.ClientSession) -> None:
    async with await start(max_message_size=1000, max_strikes=7) as server:
        bad = await session.ws_connect(url(server, "x", "bad"))
        await recv(bad)
        good = await session.ws_connect(url(server, "x", "good"))
        await recv(good)
        await recv(bad)
        other = await session.ws_connect(url(server, "y", "other"))
        await recv(other)
        other2 = await session.ws_connect(url(server, "y", "other2"))
        await recv(other2)
        await recv(other)

        await bad.send_str("{not json")
        error = await recv(bad)
        assert error["type"] == "error" and error["error"].startswith("invalid JSON: ")
        await bad.send_str("[1, 2]")
        assert await recv(bad) == {"type": "error", "error": "a message must be a JSON object"}
        await bad.send_str(json.dumps({"pad": "x" * 1000}))
        assert await recv(bad) == {
            "type": "error",
            "error": "message too large (limit 1000 bytes)",
        }
        await bad.send_bytes(b"\x00\x01")
        assert await recv(bad) == {
            "type": "error",
            "error": "binary messages are not supported: send JSON objects as text",
        }
        await bad.send_str('{"type": "joined", "peer": "fake"}')
        assert await recv(bad) == {
            "type": "error",
            "error": "message type 'joined' is reserved for the server",
        }
        await no_message(good)
        # a good message still goes through between bad ones
        await bad.send_str('{"ok": NaN}')
        assert (await recv(bad))["error"].startswith("invalid JSON")
        await bad.send_str('{"ok": 1}')
        assert await recv(good) == {"ok": 1, "from": "bad"}
        await bad.send_str("[" * 900 + "]" * 900)
        assert await recv_close(bad) == 1008
        assert await recv(good) == {"type": "left", "peer": "bad"}

        # far beyond the limit the WebSocket layer closes with 1009
        huge = await session.ws_connect(url(server, "x", "huge"))
        await recv(huge)
        await recv(good)
        await huge.send_str("x" * 5000)
        assert await recv_close(huge) == 1009
        assert await recv(good) == {"type": "left", "peer": "huge"}

        # the other room never noticed
        await other.send_json({"still": "fine"})
        assert await recv(other2) == {"still": "fine", "from": "other"}
        await good.send_json({"also": "fine"})
        await no_message(other)
        for ws in (good, other, other2):
            await ws.close()


async def test_flood_is_disconnected_without_harming_others(
    session: aiohttp.ClientSession,
) -> None:
    async with await start(rate_limit=1.0, rate_burst=30, max_strikes=10) as server:
        flood = await session.ws_connect(url(server, "f", "flood"))
        await recv(flood)
        calm = await session.ws_connect(url(server, "f", "calm"))
        await recv(calm)
        await recv(flood)
        for i in range(100):
            await flood.send_str(json.dumps({"i": i}))
        received = [await recv(calm) for _ in range(30)]
        assert received == [{"i": i, "from": "flood"} for i in range(30)]
        assert await recv(calm) == {"type": "left", "peer": "flood"}
        codes = await recv_close(flood)
        assert codes == 1008
        await calm.send_json({"alive": True})
        await no_message(calm)
        assert calm.closed is False
        await calm.close()


async def test_slow_consumer_is_dropped(session: aiohttp.ClientSession) -> None:
    async with await start(max_pending=4, reconnect_grace=0) as server:
        sender = await session.ws_connect(url(server, "s", "sender"))
        await recv(sender)
        # A peer that has lost its socket (grace 0: leave at once) cannot pile up messages;
        # here we check that pending overflow on a live but stuck peer closes it.
        stuck = await session.ws_connect(url(server, "s", "stuck"))
        await recv(stuck)
        await recv(sender)
        hub = server.hub
        stuck_session = hub.rooms["s"]["stuck"]
        assert stuck_session.writer is not None
        stuck_session.writer.cancel()  # simulate a socket that never drains
        await asyncio.sleep(0)
        for i in range(5):
            await sender.send_json({"i": i})
        assert await recv(sender) == {"type": "left", "peer": "stuck"}
        assert await recv_close(stuck) == 1008
        await sender.close()


async def test_auth_token(session: aiohttp.ClientSession) -> None:
    async with await start(auth_token="s3cret") as server:
        ws = await session.ws_connect(url(server, "a", "p"))
        assert await recv(ws) == {
            "type": "error",
            "error": "unauthorized: a valid token is required",
        }
        assert await recv_close(ws) == 4401
        ws = await session.ws_connect(url(server, "a", "p", token="wrong"))
        assert await recv_close(ws) == 4401
        ws = await session.ws_connect(url(server, "a", "p", token="s3cret"))
        assert (await recv(ws))["type"] == "welcome"
        await ws.close()
        ws = await session.ws_connect(
            url(server, "a", "p"), headers={"Authorization": "Bearer s3cret"}
        )
        assert (await recv(ws))["type"] == "welcome"
        await ws.close()
        async with session.get(server.url + "/config") as resp:
            assert resp.status == 401
        async with session.get(server.url + "/config?token=s3cret") as resp:
            assert resp.status == 200
            assert await resp.json() == {"iceServers": []}
        async with session.post(server.url + "/rooms") as resp:
            assert resp.status == 401


async def test_bad_room_and_peer_ids(session: aiohttp.ClientSession) -> None:
    async with await start() as server:
        ws = await session.ws_connect(f"{server.ws_url}")
        assert (await recv(ws))["error"].startswith("bad room")
        assert await recv_close(ws) == 4400
        ws = await session.ws_connect(url(server, "ok", "bad:id"))
        assert (await recv(ws))["error"].startswith("bad peer id")
        assert await recv_close(ws) == 4400


def _expected_credential(secret: str, username: str) -> str:
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


async def test_turn_credentials_in_welcome_and_config(session: aiohttp.ClientSession) -> None:
    stun = {"urls": "stun:stun.example.org:3478"}
    async with await start(
        ice_servers=[stun],
        turn_secret="coturn-secret",
        turn_urls=["turn:turn.example.org:3478?transport=udp"],
        turn_ttl=600.0,
    ) as server:
        before = int(time.time())
        ws = await session.ws_connect(url(server, "t", "peer1"))
        welcome = await recv(ws)
        servers = welcome["iceServers"]
        assert servers[0] == stun
        turn = servers[1]
        assert turn["urls"] == ["turn:turn.example.org:3478?transport=udp"]
        expiry, user = turn["username"].split(":")
        assert user == "peer1"
        assert before + 600 <= int(expiry) <= int(time.time()) + 600
        assert turn["credential"] == _expected_credential("coturn-secret", turn["username"])
        await ws.close()

        async with session.get(server.url + "/config?peer=p2") as resp:
            config = await resp.json()
        turn = config["iceServers"][1]
        assert turn["username"].endswith(":p2")
        assert turn["credential"] == _expected_credential("coturn-secret", turn["username"])


async def test_http_endpoints(session: aiohttp.ClientSession) -> None:
    async with await start() as server:
        async with session.post(server.url + "/rooms") as resp:
            room = (await resp.json())["room"]
        assert len(room) == 38 and server.hub.is_minted(room)  # nonce + HMAC tag
        async with session.post(server.url + "/rooms") as resp:
            assert (await resp.json())["room"] != room
        async with session.get(server.url + "/new", allow_redirects=False) as resp:
            assert resp.status == 302
            assert resp.headers["Location"].startswith("/static/chat.html?room=")
        async with session.get(server.url + "/") as resp:
            assert resp.status == 200
            assert "<title>" in await resp.text()
        async with session.get(server.url + "/static/rtcpeer.js") as resp:
            assert resp.status == 200
            assert "export class SignalingChannel" in await resp.text()


async def test_shutdown_closes_with_going_away(session: aiohttp.ClientSession) -> None:
    server = await start()
    ws = await session.ws_connect(url(server, "z", "p"))
    await recv(ws)
    await server.close()
    assert await recv_close(ws) == 1001


async def test_nasty_payloads_never_break_the_server(session: aiohttp.ClientSession) -> None:
    async with await start(max_strikes=100) as server:
        a = await session.ws_connect(url(server, "n", "a"))
        await recv(a)
        b = await session.ws_connect(url(server, "n", "b"))
        await recv(b)
        await recv(a)
        refused = [
            '{"big": ' + "9" * 5000 + "}",  # beyond Python's int-from-string limit
            '{"x": Infinity}',
            '{"to": 5}',
            '{"to": ["b"]}',
            '{"to": "a"}',  # to oneself
            "",
            "null",
            '"just a string"',
            '{"a": 1',
            "\x00",
        ]
        for text in refused:
            await a.send_str(text)
            reply = await recv(a)
            assert reply["type"] == "error", text
        await no_message(b)
        # Lone surrogates are legal JSON escapes: relayed, still escaped, without harm.
        await a.send_str('{"s": "\\ud800 \\u00e9 \\u2603"}')
        msg = await asyncio.wait_for(b.receive(), 3.0)
        assert msg.data == '{"s":"\\ud800 \\u00e9 \\u2603","from":"a"}'
        await a.send_json({"still": "ok"})
        assert await recv(b) == {"still": "ok", "from": "a"}
        for ws in (a, b):
            await ws.close()
