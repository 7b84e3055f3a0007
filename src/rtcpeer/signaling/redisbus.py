"""A :class:`~rtcpeer.signaling.rooms.RoomBus` on Redis: several signaling servers, one set of rooms.

Per room (the ``{token}`` hash tag keeps a room's keys in one Redis Cluster slot):

* ``rtcpeer:room:{T}:members`` hash ``peer -> "<seq>|<server id>"``: who is in the room, its join
  order and which server holds its socket;
* ``rtcpeer:room:{T}:alive`` sorted set ``peer -> expiry (ms)``: refreshed by the owning server
  every third of ``membership_ttl``, so the peers of a server that died expire and are announced
  as gone by whichever server sweeps the room next;
* ``rtcpeer:room:{T}:seq`` the join counter (INCR);
* pub/sub channel ``rtcpeer:room:T`` carrying envelopes as JSON with the origin server id, so a
  server ignores its own.

Joins, leaves and sweeps are Lua scripts, hence atomic: two servers cannot both admit the ninth
peer of an eight-peer room or hand out the same join order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from rtcpeer.signaling.rooms import Deliver, Envelope, JoinResult, Member, RoomBus, RoomFull

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "rtcpeer:room:"

# KEYS: members, alive, seq. ARGV: peer, server, now_ms, expiry_ms, max_size, key_ttl_s.
_JOIN = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
for _, p in ipairs(expired) do
  redis.call('HDEL', KEYS[1], p)
  redis.call('ZREM', KEYS[2], p)
end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local seq
local rejoin = 0
local prev = ''
if cur then
  local sep = string.find(cur, '|', 1, true)
  seq = tonumber(string.sub(cur, 1, sep - 1))
  prev = string.sub(cur, sep + 1)
  rejoin = 1
else
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then
    return {-1, 0, '', expired, {}}
  end
  seq = redis.call('INCR', KEYS[3])
end
redis.call('HSET', KEYS[1], ARGV[1], seq .. '|' .. ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[6]) end
return {seq, rejoin, prev, expired, redis.call('HGETALL', KEYS[1])}
"""

# KEYS: members, alive, seq. ARGV: peer, server.
_LEAVE = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local sep = string.find(cur, '|', 1, true)
if string.sub(cur, sep + 1) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) end
return 1
"""

# KEYS: members, alive, seq. ARGV: now_ms, expiry_ms, key_ttl_s, server, peers...
# Own peers are refreshed before the sweep so a slow refresh never expires them.
_REFRESH = """
for i = 5, #ARGV do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if cur then
    local sep = string.find(cur, '|', 1, true)
    if string.sub(cur, sep + 1) == ARGV[4] then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[i]) end
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, p in ipairs(expired) do
  redis.call('HDEL', KEYS[1], p)
  redis.call('ZREM', KEYS[2], p)
end
if redis.call('HLEN', KEYS[1]) > 0 then
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
end
return expired
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _keys(room: str) -> list[str]:
    base = f"rtcpeer:room:{{{room}}}"
    return [f"{base}:members", f"{base}:alive", f"{base}:seq"]


def _parse_members(flat: list[Any]) -> list[Member]:
    members = []
    for i in range(0, len(flat) - 1, 2):
        seq, _, _ = _text(flat[i + 1]).partition("|")
        members.append(Member(_text(flat[i]), int(seq)))
    members.sort(key=lambda m: m.seq)
    return members


class RedisBus(RoomBus):
    """Rooms shared by every signaling server connected to the same Redis."""

    def __init__(self, server_id: str, url: str, membership_ttl: float = 30.0) -> None:
        super().__init__(server_id)
        self.url = url
        self.ttl = membership_ttl
        self._redis: aioredis.Redis = aioredis.Redis.from_url(url)
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._deliver: Deliver | None = None
        self._join = self._redis.register_script(_JOIN)
        self._leave = self._redis.register_script(_LEAVE)
        self._refresh = self._redis.register_script(_REFRESH)

    def _times(self) -> tuple[int, int, int]:
        # Wall-clock milliseconds: the servers sharing a Redis compare expiry stamps.
        now = int(time.time() * 1000)
        return now, now + int(self.ttl * 1000), max(int(self.ttl * 3), 1)

    async def open(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # A private channel keeps the subscription alive while this server watches no room.
        await self._pubsub.subscribe(f"rtcpeer:server:{self.server_id}")
        self._reader = asyncio.create_task(self._read_loop(self._pubsub))

    async def _read_loop(self, pubsub: PubSub) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._on_message(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                logger.warning("redis subscription lost (%s); retrying", exc)
                await asyncio.sleep(0.5)

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = _text(message["channel"])
        if not channel.startswith(CHANNEL_PREFIX) or self._deliver is None:
            return
        try:
            data = json.loads(message["data"])
            env = Envelope(
                kind=str(data["k"]),
                room=channel[len(CHANNEL_PREFIX) :],
                peer=str(data["p"]),
                origin=str(data["o"]),
                to=data.get("t"),
                payload=data.get("d"),
            )
        except (ValueError, KeyError, TypeError):
            logger.debug("ignoring malformed envelope on %s", channel)
            return
        if env.origin == self.server_id:
            return
        try:
            self._deliver(env)
        except Exception:
            logger.exception("envelope delivery failed")

    async def join(self, room: str, peer: str, max_size: int) -> JoinResult:
        now, expiry, key_ttl = self._times()
        seq, rejoin, prev, expired, flat = await self._join(
            keys=_keys(room), args=[peer, self.server_id, now, expiry, max_size, key_ttl]
        )
        gone = tuple(_text(p) for p in expired)
        if seq == -1:
            raise RoomFull(room, max_size, gone)
        others = [m for m in _parse_members(flat) if m.peer != peer]
        previous = _text(prev) if rejoin else None
        return JoinResult(int(seq), bool(rejoin), others, previous, gone)

    async def leave(self, room: str, peer: str) -> bool:
        return bool(await self._leave(keys=_keys(room), args=[peer, self.server_id]))

    async def members(self, room: str) -> list[Member]:
        now, _, _ = self._times()
        members_key, alive_key, _ = _keys(room)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(members_key)
            pipe.zrangebyscore(alive_key, f"({now}", "+inf")
            flat_map, alive = await pipe.execute()
        live = {_text(p) for p in alive}
        flat: list[Any] = []
        for key, value in flat_map.items():
            flat.extend((key, value))
        return [m for m in _parse_members(flat) if m.peer in live]

    async def publish(self, envelope: Envelope) -> None:
        data: dict[str, Any] = {"o": envelope.origin, "k": envelope.kind, "p": envelope.peer}
        if envelope.to is not None:
            data["t"] = envelope.to
        if envelope.payload is not None:
            data["d"] = envelope.payload
        await self._redis.publish(CHANNEL_PREFIX + envelope.room, json.dumps(data))

    async def watch(self, room: str) -> None:
        if self._pubsub is not None:
            await self._pubsub.subscribe(CHANNEL_PREFIX + room)

    async def unwatch(self, room: str) -> None:
        if self._pubsub is not None:
            await self._pubsub.unsubscribe(CHANNEL_PREFIX + room)

    async def refresh(self, rooms: dict[str, list[str]]) -> list[tuple[str, str]]:
        expired: list[tuple[str, str]] = []
        now, expiry, key_ttl = self._times()
        for room, peers in rooms.items():
            found = await self._refresh(
                keys=_keys(room), args=[now, expiry, key_ttl, self.server_id, *peers]
            )
            expired.extend((room, _text(p)) for p in found)
        return expired

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            except (RedisError, OSError):
                pass
        await self._redis.aclose()
