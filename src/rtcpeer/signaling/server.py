"""The rtcpeer signaling server (aiohttp): rooms, relay, presence, limits, static pages.

WebRTC leaves signaling to the application (W3C webrtc-pc section 1; MDN "Signaling and video
calling", "Lifetime of a WebRTC session"). This server is the usual design: peers open a
WebSocket to ``/ws?room=TOKEN[&peer=ID]`` and every JSON object they send is relayed to the other
peers of the room with ``"from"`` added (``"to"`` narrows it to one peer).

Protocol, server to client:

* ``{"type": "welcome", "peer", "room", "polite", "peers", "politeTo", "iceServers"}`` first.
  Roles follow MDN's perfect negotiation: between two peers the one that joined the room first is
  *impolite*. ``polite`` is true when an older peer is present; ``politeTo`` lists the peers this
  one must be polite to (those that joined before it); toward a peer announced later by
  ``joined`` a client is impolite.
* ``{"type": "joined", "peer"}`` / ``{"type": "left", "peer"}``: presence.
* ``{"type": "error", "error": "..."}`` for a message the server refused.
* relayed messages, e.g. ``{"description": {...}, "from": "a"}``.

A peer that reconnects with its peer id (within ``reconnect_grace`` after losing its socket, or
while the old socket is still open) takes over its old place: same role, messages queued while it
was away delivered, no ``left``/``joined`` for the others.

Close codes: 1008 policy (garbage, flood, slow consumer), 1009 message too big, 1001 server
shutdown, 4000 replaced by a newer connection with the same peer id, 4400 bad request,
4401 unauthorized, 4404 unknown room (``require_minted_rooms``), 4409 room full. Clients should
reconnect only after 1001/1006/1011-1014.

Several server processes share rooms through a :class:`~rtcpeer.signaling.rooms.RoomBus`
(Redis when ``ServerConfig.redis_url`` is set).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WebSocketError, WSCloseCode, WSMsgType, web

from rtcpeer.signaling.rooms import Envelope, Member, MemoryBus, RoomBus, RoomFull
from rtcpeer.signaling.turn import ice_servers_for

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

PEER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
ROOM_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: message types only the server may send; a client sending one could impersonate it
RESERVED_TYPES = frozenset({"welcome", "joined", "left", "error"})

CLOSE_REPLACED = 4000
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_UNKNOWN_ROOM = 4404
CLOSE_ROOM_FULL = 4409
#: a client that closes with one of these has left for good: no reconnect grace
_CLEAN_CLOSE = frozenset({WSCloseCode.OK, WSCloseCode.GOING_AWAY})
_PROTOCOL_ERRORS = frozenset(
    {
        WSCloseCode.PROTOCOL_ERROR,
        WSCloseCode.UNSUPPORTED_DATA,
        WSCloseCode.INVALID_TEXT,
        WSCloseCode.MESSAGE_TOO_BIG,
    }
)


@dataclass(slots=True)
class ServerConfig:
    """Everything the signaling server can be told; the defaults suit a development server."""

    max_room_size: int = 8
    #: largest accepted message (UTF-8 bytes); up to 4x larger ones get an error reply, beyond
    #: that the connection is closed with 1009 by the WebSocket layer itself
    max_message_size: int = 64 * 1024
    #: sustained messages per second per connection, and the burst allowed above it
    rate_limit: float = 50.0
    rate_burst: int = 200
    #: messages waiting to be written to one peer before it is dropped as a slow consumer
    max_pending: int = 256
    #: refused messages (bad JSON, oversized, flood) tolerated before closing with 1008
    max_strikes: int = 10
    #: WebSocket ping interval in seconds (None: no heartbeat)
    heartbeat: float | None = 20.0
    #: seconds a peer whose socket died keeps its place (and messages) for a reconnect
    reconnect_grace: float = 10.0
    #: when set, clients must present it as ``?token=`` or ``Authorization: Bearer``
    auth_token: str | None = None
    #: RTCIceServer dicts handed to clients as they are
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    #: coturn ``static-auth-secret``: mint TURN REST credentials for ``turn_urls``
    turn_secret: str | None = None
    turn_urls: list[str] = field(default_factory=list)
    turn_ttl: float = 24 * 3600.0
    #: share rooms with other server processes through Redis
    redis_url: str | None = None
    #: Redis membership lifetime; refreshed every third of it while the peer is connected
    membership_ttl: float = 30.0
    #: a ready-made bus (tests, embedding); overrides ``redis_url``
    bus: RoomBus | None = None
    server_id: str | None = None
    static_dir: Path | None = None
    #: refuse to join rooms this server (or one sharing ``room_secret``) did not mint with
    #: ``POST /rooms`` or ``GET /new``: a mistyped or stale link gets a clear error (4404)
    require_minted_rooms: bool = False
    #: key that signs minted room tokens (give every server of a deployment the same one);
    #: None: a random key per process
    room_secret: str | None = None


class _Session:
    """One peer of one room held by this server; outlives a socket during reconnects."""

    __slots__ = ("grace", "peer", "queue", "room", "seq", "wakeup", "writer", "ws")

    def __init__(self, room: str, peer: str, seq: int) -> None:
        self.room = room
        self.peer = peer
        self.seq = seq
        self.ws: web.WebSocketResponse | None = None
        self.queue: deque[str] = deque()
        self.wakeup = asyncio.Event()
        self.writer: asyncio.Task[None] | None = None
        self.grace: asyncio.Task[None] | None = None


class _Bucket:
    """Token bucket: ``rate`` per second, at most ``burst`` saved up."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.tokens = self.burst
        self.stamp = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def _reject_constant(name: str) -> Any:
    # NaN / Infinity are not JSON; browsers' JSON.parse would choke on the relayed message.
    raise ValueError(f"{name} is not valid JSON")


def _dumps(obj: dict[str, Any]) -> str:
    # ensure_ascii keeps lone surrogates (legal in JSON escapes) from breaking UTF-8 encoding.
    return json.dumps(obj, separators=(",", ":"))


class SignalingHub:
    """The server's state: local sessions by room, the bus, and the relay logic."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.server_id = config.server_id or secrets.token_hex(8)
        if config.bus is not None:
            self.bus: RoomBus = config.bus
        elif config.redis_url:
            from rtcpeer.signaling.redisbus import RedisBus

            self.bus = RedisBus(self.server_id, config.redis_url, config.membership_ttl)
        else:
            self.bus = MemoryBus(self.server_id)
        self.rooms: dict[str, dict[str, _Session]] = {}
        #: every member of each room this server has peers in (for validating "to")
        self.members: dict[str, set[str]] = {}
        self.closing = False
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refresher: asyncio.Task[None] | None = None
        secret = config.room_secret or secrets.token_urlsafe(32)
        self._room_key = hashlib.sha256(b"rtcpeer room token\0" + secret.encode()).digest()

    # -- room tokens -----------------------------------------------------------------------

    def _room_tag(self, nonce: str) -> str:
        mac = hmac.new(self._room_key, nonce.encode(), hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(mac).decode()

    def mint_room(self) -> str:
        """A fresh unguessable room token, signed so that :meth:`is_minted` recognises it."""
        nonce = new_room_token()  # 22 characters
        return nonce + self._room_tag(nonce)

    def is_minted(self, room: str) -> bool:
        """True for a token from :meth:`mint_room` of a server sharing ``room_secret``."""
        if len(room) != _MINTED_LENGTH:
            return False
        nonce, tag = room[:_NONCE_LENGTH], room[_NONCE_LENGTH:]
        return hmac.compare_digest(tag.encode(), self._room_tag(nonce).encode())

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.bus.open(self._on_envelope)
        self._refresher = asyncio.create_task(self._refresh_loop())

    async def shutdown(self) -> None:
        """Close every socket with 1001; peers keep their membership so they may reconnect."""
        self.closing = True
        sockets = [s.ws for sessions in self.rooms.values() for s in sessions.values() if s.ws]
        await asyncio.gather(
            *(
                ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
                for ws in sockets
            ),
            return_exceptions=True,
        )

    async def cleanup(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        for sessions in list(self.rooms.values()):
            for session in list(sessions.values()):
                self._drop(session)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.bus.close()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh_loop(self) -> None:
        interval = max(self.config.membership_ttl / 3.0, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                local = {room: list(sessions) for room, sessions in self.rooms.items()}
                expired = await self.bus.refresh(local)
                for room, peer in expired:
                    await self._announce("left", room, peer)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("membership refresh failed")

    # -- per-room serialisation of joins and leaves -----------------------------------------

    async def _lock(self, room: str) -> asyncio.Lock:
        lock, users = self._locks.get(room, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[room] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._release_count(room, lock)
            raise
        return lock

    def _unlock(self, room: str, lock: asyncio.Lock) -> None:
        lock.release()
        self._release_count(room, lock)

    def _release_count(self, room: str, lock: asyncio.Lock) -> None:
        _, users = self._locks[room]
        if users <= 1:
            del self._locks[room]
        else:
            self._locks[room] = (lock, users - 1)

    # -- joining and leaving ---------------------------------------------------------------

    def ice_servers(self, peer: str) -> list[dict[str, Any]]:
        c = self.config
        return ice_servers_for(
            c.ice_servers, c.turn_secret, c.turn_urls, c.turn_ttl, peer, time.time()
        )

    def _welcome(self, session: _Session, members: list[Member]) -> str:
        others = sorted((m for m in members if m.peer != session.peer), key=lambda m: m.seq)
        older = [m.peer for m in others if m.seq < session.seq]
        return _dumps(
            {
                "type": "welcome",
                "peer": session.peer,
                "room": session.room,
                "polite": bool(older),
                "peers": [m.peer for m in others],
                "politeTo": older,
                "iceServers": self.ice_servers(session.peer),
            }
        )

    async def attach(
        self, ws: web.WebSocketResponse, room: str, peer: str | None
    ) -> _Session | None:
        """Join (or re-attach) a socket; None when refused (the socket is then closed)."""
        lock = await self._lock(room)
        try:
            session = self.rooms.get(room, {}).get(peer) if peer else None
            if session is not None:
                members = await self.bus.members(room)
                old, session.ws = session.ws, None
                if session.grace is not None:
                    session.grace.cancel()
                    session.grace = None
                if old is not None:
                    self._spawn(
                        old.close(code=CLOSE_REPLACED, message=b"replaced by a newer connection")
                    )
                self.members[room] = {m.peer for m in members}
                await self._attach_socket(session, ws, self._welcome(session, members))
                return session
            if peer is None:
                peer = secrets.token_urlsafe(9)
            try:
                result = await self.bus.join(room, peer, self.config.max_room_size)
            except RoomFull as exc:
                for gone in exc.expired:
                    await self._announce("left", room, gone)
                await _refuse(ws, CLOSE_ROOM_FULL, str(exc))
                return None
            for gone in result.expired:
                await self._announce("left", room, gone)
            session = _Session(room, peer, result.seq)
            local = self.rooms.get(room)
            if local is None:
                try:
                    await self.bus.watch(room)
                except BaseException:
                    await self._safe_leave(room, peer)
                    raise
                local = self.rooms.setdefault(room, {})
            local[peer] = session
            self.members[room] = {m.peer for m in result.others} | {peer}
            session.writer = asyncio.create_task(self._write_loop(session))
            if result.previous_server not in (None, self.server_id):
                await self._publish(Envelope("kick", room, peer, self.server_id))
            members = [*result.others, Member(peer, result.seq)]
            await self._attach_socket(session, ws, self._welcome(session, members))
            if not result.rejoin:
                await self._announce("joined", room, peer)
            return session
        finally:
            self._unlock(room, lock)

    async def _attach_socket(
        self, session: _Session, ws: web.WebSocketResponse, welcome: str
    ) -> None:
        # The welcome goes out before the socket is visible to the writer, so it is always first.
        try:
            await ws.send_str(welcome)
        except (ConnectionError, RuntimeError):
            return
        session.ws = ws
        session.wakeup.set()

    async def detach(self, session: _Session, ws: web.WebSocketResponse, leave_now: bool) -> None:
        """The socket ``ws`` of ``session`` ended."""
        if (
            session.ws is not ws
            or self.rooms.get(session.room, {}).get(session.peer) is not session
        ):
            return  # replaced by a newer connection, or already dropped
        session.ws = None
        if self.closing:
            return
        if leave_now or self.config.reconnect_grace <= 0:
            await self.leave(session)
        else:
            session.grace = asyncio.create_task(self._expire(session))

    async def _expire(self, session: _Session) -> None:
        await asyncio.sleep(self.config.reconnect_grace)
        session.grace = None
        await self.leave(session)

    async def leave(self, session: _Session) -> None:
        lock = await self._lock(session.room)
        try:
            if self.rooms.get(session.room, {}).get(session.peer) is not session:
                return
            await self._forget(session)
            if await self._safe_leave(session.room, session.peer):
                await self._announce("left", session.room, session.peer)
        finally:
            self._unlock(session.room, lock)

    async def _safe_leave(self, room: str, peer: str) -> bool:
        try:
            return await self.bus.leave(room, peer)
        except Exception:
            # The store is unreachable: the membership expires by itself (Redis TTL).
            logger.exception("could not remove %s from room %s", peer, room)
            return False

    async def _publish(self, envelope: Envelope) -> None:
        try:
            await self.bus.publish(envelope)
        except Exception:
            # Peers on other servers miss this one message; nothing here may take the
            # sender's connection down with it.
            logger.exception(
                "could not publish a %s envelope for room %s", envelope.kind, envelope.room
            )

    def _drop(self, session: _Session) -> None:
        """Forget a session locally without touching the bus (shutdown, kick)."""
        local = self.rooms.get(session.room)
        if local is not None and local.get(session.peer) is session:
            del local[session.peer]
            if not local:
                del self.rooms[session.room]
                self.members.pop(session.room, None)
        for task in (session.writer, session.grace):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        session.writer = session.grace = None
        session.queue.clear()

    async def _forget(self, session: _Session) -> None:
        self._drop(session)
        if session.room not in self.rooms:
            await self._unwatch(session.room)

    async def _unwatch(self, room: str) -> None:
        try:
            await self.bus.unwatch(room)
        except Exception:
            logger.exception("could not stop watching room %s", room)

    async def _announce(self, kind: str, room: str, peer: str) -> None:
        self._presence(kind, room, peer)
        if self.bus.shared:
            await self._publish(Envelope(kind, room, peer, self.server_id))

    def _presence(self, kind: str, room: str, peer: str) -> None:
        members = self.members.get(room)
        if members is not None:
            if kind == "joined":
                members.add(peer)
            else:
                members.discard(peer)
        text = _dumps({"type": kind, "peer": peer})
        for other, session in list(self.rooms.get(room, {}).items()):
            if other != peer:
                self._push(session, text)

    # -- delivery --------------------------------------------------------------------------

    def _push(self, session: _Session, text: str) -> None:
        if session.writer is None:
            return  # dropped, or being dropped for overflowing
        if len(session.queue) >= self.config.max_pending:
            logger.info("peer %s in room %s: too many pending messages", session.peer, session.room)
            ws = session.ws
            if ws is not None:
                self._spawn(
                    ws.close(
                        code=WSCloseCode.POLICY_VIOLATION, message=b"too many pending messages"
                    )
                )
            writer, session.writer = session.writer, None
            writer.cancel()
            session.queue.clear()
            self._spawn(self.leave(session))
            return
        session.queue.append(text)
        session.wakeup.set()

    async def _write_loop(self, session: _Session) -> None:
        queue = session.queue
        while True:
            await session.wakeup.wait()
            session.wakeup.clear()
            while queue:
                ws = session.ws
                if ws is None or ws.closed:
                    break
                text = queue.popleft()
                try:
                    await ws.send_str(text)
                except (ConnectionError, RuntimeError):
                    # The socket died under us: keep the message for a reconnect.
                    queue.appendleft(text)
                    break

    def _deliver_local(self, room: str, sender: str, to: str | None, text: str) -> None:
        sessions = self.rooms.get(room)
        if not sessions:
            return
        if to is not None:
            target = sessions.get(to)
            if target is not None:
                self._push(target, text)
            return
        for peer, session in list(sessions.items()):
            if peer != sender:
                self._push(session, text)

    def _on_envelope(self, env: Envelope) -> None:
        """An envelope published by another server."""
        if env.origin == self.server_id:
            return
        if env.kind == "message" and env.payload is not None:
            self._deliver_local(env.room, env.peer, env.to, env.payload)
        elif env.kind in ("joined", "left"):
            self._presence(env.kind, env.room, env.peer)
        elif env.kind == "kick":
            session = self.rooms.get(env.room, {}).get(env.peer)
            if session is not None:
                ws = session.ws
                self._drop(session)
                if session.room not in self.rooms:
                    self._spawn(self._unwatch(session.room))
                if ws is not None:
                    self._spawn(
                        ws.close(code=CLOSE_REPLACED, message=b"replaced by a newer connection")
                    )

    # -- reading one socket ----------------------------------------------------------------

    def error(self, session: _Session, text: str) -> None:
        self._push(session, _dumps({"type": "error", "error": text}))

    async def read_loop(self, session: _Session, ws: web.WebSocketResponse) -> bool:
        """Relay what the socket sends; True when the peer left for good."""
        c = self.config
        bucket = _Bucket(c.rate_limit, c.rate_burst, time.monotonic())
        strikes = 0
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.CLOSE:
                # The client closed: 1000/1001 mean it left; anything else may come back.
                return msg.data in _CLEAN_CLOSE
            if msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED):
                # We closed it (or the transport died): hold its place for a reconnect.
                return False
            if session.ws is not ws:
                return False
            problem: str | None = None
            if msg.type == WSMsgType.TEXT:
                if not bucket.take(time.monotonic()):
                    problem = f"rate limit exceeded ({c.rate_limit:g} messages/s)"
                else:
                    problem = await self._handle_text(session, msg.data)
                    if problem == "":
                        await ws.close(code=WSCloseCode.OK, message=b"left")
                        return True
            elif msg.type == WSMsgType.BINARY:
                problem = "binary messages are not supported: send JSON objects as text"
            elif msg.type == WSMsgType.ERROR:
                # Protocol violations (bad frames, bad UTF-8, far too big) end the peer; a
                # heartbeat timeout or transport error is a network problem: allow a reconnect.
                error = ws.exception()
                logger.debug("websocket error from %s: %s", session.peer, error)
                return isinstance(error, WebSocketError) and error.code in _PROTOCOL_ERRORS
            if problem is not None:
                strikes += 1
                if strikes >= c.max_strikes:
                    logger.info("closing %s in room %s: %s", session.peer, session.room, problem)
                    # Not awaited: close() waits for the client's close frame, and a client
                    # that floods is not reading. Leaving now frees its place at once.
                    self._spawn(
                        ws.close(
                            code=WSCloseCode.POLICY_VIOLATION,
                            message=f"too many refused messages, last: {problem}"[:120].encode(),
                        )
                    )
                    return True
                self.error(session, problem)

    async def _handle_text(self, session: _Session, data: str) -> str | None:
        """Relay one text message; returns an error text, "" for a leave, or None."""
        limit = self.config.max_message_size
        if len(data) > limit or (len(data) * 4 > limit and len(data.encode()) > limit):
            return f"message too large (limit {limit} bytes)"
        try:
            obj = json.loads(data, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            return f"invalid JSON: {str(exc)[:100]}"
        if not isinstance(obj, dict):
            return "a message must be a JSON object"
        kind = obj.get("type")
        if kind == "leave":
            return ""
        if kind in RESERVED_TYPES:
            return f"message type {kind!r} is reserved for the server"
        to = obj.get("to")
        if to is not None:
            if not isinstance(to, str):
                return '"to" must be a peer id string'
            if to == session.peer or to not in self.members.get(session.room, ()):
                return f"no peer {to[:64]!r} in this room"
        obj["from"] = session.peer
        try:
            text = _dumps(obj)
        except (ValueError, RecursionError):
            return "message cannot be relayed"
        self._deliver_local(session.room, session.peer, to, text)
        if self.bus.shared and (to is None or to not in self.rooms.get(session.room, {})):
            await self._publish(
                Envelope("message", session.room, session.peer, self.server_id, to, text)
            )
        return None

    # -- HTTP ------------------------------------------------------------------------------

    def authorized(self, request: web.Request) -> bool:
        expected = self.config.auth_token
        if not expected:
            return True
        given = request.query.get("token", "")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            given = header[7:].strip()
        return hmac.compare_digest(given.encode(), expected.encode())


async def _refuse(ws: web.WebSocketResponse, code: int, text: str) -> None:
    try:
        await ws.send_str(_dumps({"type": "error", "error": text}))
    except (ConnectionError, RuntimeError):
        pass
    await ws.close(code=code, message=text[:120].encode())


HUB_KEY = web.AppKey("rtcpeer_signaling_hub", SignalingHub)


async def _ws_handler(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB_KEY]
    c = hub.config
    ws = web.WebSocketResponse(
        heartbeat=c.heartbeat,
        max_msg_size=max(4 * c.max_message_size, 1024),
        compress=False,
        timeout=5.0,
    )
    await ws.prepare(request)
    room = request.query.get("room", "")
    peer = request.query.get("peer") or None
    if not hub.authorized(request):
        await _refuse(ws, CLOSE_UNAUTHORIZED, "unauthorized: a valid token is required")
        return ws
    if not ROOM_RE.fullmatch(room):
        await _refuse(ws, CLOSE_BAD_REQUEST, "bad room: 1-128 characters of A-Z a-z 0-9 _ -")
        return ws
    if peer is not None and not PEER_ID_RE.fullmatch(peer):
        await _refuse(ws, CLOSE_BAD_REQUEST, "bad peer id: 1-64 characters of A-Z a-z 0-9 _ -")
        return ws
    if c.require_minted_rooms and not hub.is_minted(room):
        await _refuse(
            ws,
            CLOSE_UNKNOWN_ROOM,
            "unknown room: this server only opens rooms it created (POST /rooms or GET /new)",
        )
        return ws
    if hub.closing:
        await _refuse(ws, WSCloseCode.GOING_AWAY, "server shutting down")
        return ws
    try:
        session = await hub.attach(ws, room, peer)
    except Exception:
        logger.exception("joining %s to room %s failed", peer, room)
        await _refuse(ws, WSCloseCode.INTERNAL_ERROR, "server error while joining, try again")
        return ws
    if session is None:
        return ws
    leave_now = True
    try:
        leave_now = await hub.read_loop(session, ws)
    finally:
        await asyncio.shield(hub.detach(session, ws, leave_now))
    return ws


async def _config_handler(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB_KEY]
    if not hub.authorized(request):
        return web.json_response({"error": "unauthorized"}, status=401)
    peer = request.query.get("peer", "")
    if not PEER_ID_RE.fullmatch(peer):
        peer = secrets.token_urlsafe(9)
    return web.json_response({"iceServers": hub.ice_servers(peer)})


async def _rooms_handler(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB_KEY]
    if not hub.authorized(request):
        return web.json_response({"error": "unauthorized"}, status=401)
    return web.json_response({"room": hub.mint_room()})


async def _new_handler(request: web.Request) -> web.StreamResponse:
    hub = request.app[HUB_KEY]
    raise web.HTTPFound(f"/static/chat.html?room={hub.mint_room()}")


async def _no_content(request: web.Request) -> web.StreamResponse:
    return web.Response(status=204)


def new_room_token() -> str:
    """A fresh unguessable room token (128 random bits, URL-safe)."""
    return secrets.token_urlsafe(16)


_NONCE_LENGTH = 22  # token_urlsafe(16)
_MINTED_LENGTH = _NONCE_LENGTH + 16  # + 12 bytes of HMAC-SHA256 in URL-safe base64


def create_app(config: ServerConfig | None = None) -> web.Application:
    """The signaling server as an aiohttp application."""
    config = config or ServerConfig()
    hub = SignalingHub(config)
    app = web.Application()
    app[HUB_KEY] = hub
    static_dir = config.static_dir or WEB_DIR

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(static_dir / "index.html")

    async def on_startup(app: web.Application) -> None:
        await hub.start()

    async def on_shutdown(app: web.Application) -> None:
        await hub.shutdown()

    async def on_cleanup(app: web.Application) -> None:
        await hub.cleanup()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    app.router.add_get("/ws", _ws_handler)
    app.router.add_get("/config", _config_handler)
    app.router.add_post("/rooms", _rooms_handler)
    app.router.add_get("/new", _new_handler)
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", _no_content)
    if static_dir.is_dir():
        app.router.add_static("/static", static_dir)
    return app


@dataclass(slots=True)
class ServerHandle:
    """A running server: ``url`` (http://host:port), ``ws_url`` and ``close()``."""

    url: str
    app: web.Application
    runner: web.AppRunner

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[4:] + "/ws"

    @property
    def hub(self) -> SignalingHub:
        return self.app[HUB_KEY]

    async def close(self) -> None:
        await self.runner.cleanup()

    async def __aenter__(self) -> ServerHandle:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def run_server(
    host: str = "127.0.0.1",
    port: int = 0,
    config: ServerConfig | None = None,
    *,
    ssl_context: Any = None,
    **options: Any,
) -> ServerHandle:
    """Start the server on ``host:port`` (0: any free port); returns once it is listening.

    ``options`` are :class:`ServerConfig` fields, for when no ``config`` is given
    (``run_server(port=8080, redis_url="redis://...")``). ``ssl_context`` serves https/wss.
    """
    if options:
        if config is not None:
            raise TypeError("pass either config or ServerConfig options, not both")
        config = ServerConfig(**options)
    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    scheme = "https" if ssl_context is not None else "http"
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return ServerHandle(f"{scheme}://{shown}:{bound_port}", app, runner)
