"""``SignalingChannel``: the client side of the rtcpeer signaling server, in Python.

MDN's perfect-negotiation example talks to an unspecified ``SignalingChannel`` with
``signaler.send({description})`` and ``signaler.onmessage = ({data: {description, candidate}})``.
This is that object for the protocol of :mod:`rtcpeer.signaling.server`, so the example ports
line by line:

    channel = SignalingChannel("ws://host:8080/ws", room)
    await channel.connect()
    polite = channel.polite

    @channel.on("message")
    async def on_message(event):
        description = event.data.get("description")
        ...

    await channel.send({"description": pc.localDescription.toJSON()})

``url`` may be a list of URLs (several servers sharing rooms through Redis): when one cannot be
reached or its connection is lost, the next is tried with the same peer id.

Messages may also be consumed with ``async for message in channel``. A lost connection is
retried with exponential backoff under the same peer id, so the server keeps this peer's place
and role and hands over the messages queued meanwhile; ``send`` buffers while reconnecting.

Events: ``open`` (after each welcome; ``.data`` is the welcome), ``message`` (every other
server message: relayed payloads, ``joined``/``left``, ``error``; ``.data`` is the dict),
``reconnecting`` (``.delay``, ``.code``), ``close`` (final; ``.code``, ``.reason``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from rtcpeer.errors import InvalidStateError, NetworkError, OperationError
from rtcpeer.events import Event, EventTarget

logger = logging.getLogger(__name__)

#: close codes after which reconnecting would not help (refused, replaced, misbehaving)
_FINAL_CODES = frozenset({1000, 1002, 1003, 1007, 1008, 1009, 1010, 4000, 4400, 4401, 4404, 4409})


class SignalingError(NetworkError):
    """The server refused the connection (``code`` is the WebSocket close code)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _ws_url(url: str) -> str:
    """Accept ``ws(s)://host/ws`` or the server's ``http(s)://host`` base URL."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path if parts.path not in ("", "/") else "/ws"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


class SignalingChannel(EventTarget):
    """One peer's connection to a room of the signaling server."""

    def __init__(
        self,
        url: str | Sequence[str],
        room: str,
        peer_id: str | None = None,
        *,
        token: str | None = None,
        reconnect: bool = True,
        backoff_initial: float = 0.1,
        backoff_max: float = 10.0,
        heartbeat: float | None = 20.0,
        max_buffer: int = 1000,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__()
        # Several URLs (servers sharing rooms through Redis): a connection that cannot be made
        # or is lost moves on to the next one, same peer id, same backoff.
        urls = [url] if isinstance(url, str) else list(url)
        if not urls:
            raise ValueError("SignalingChannel needs at least one server URL")
        self.urls = [_ws_url(u) for u in urls]
        self._url_index = 0
        self.room = room
        self._peer_id = peer_id
        self._token = token
        self._reconnect = reconnect
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._heartbeat = heartbeat
        self._max_buffer = max_buffer
        self._session = session
        self._own_session = session is None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ready = False
        self._closing = False
        self._closed = False
        self._buffer: deque[str] = deque()
        self._inbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None
        self._opened: asyncio.Future[None] | None = None
        self._polite = False
        self._ice_servers: list[dict[str, Any]] = []
        self._peers: list[str] = []
        self._older: set[str] = set()
        self.welcome: dict[str, Any] | None = None
        self.close_code: int | None = None
        self.close_reason = ""

    # -- properties ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The WebSocket URL in use (or tried next)."""
        return self.urls[self._url_index]

    @property
    def peer_id(self) -> str | None:
        """This peer's id (assigned by the server unless given)."""
        return self._peer_id

    @property
    def polite(self) -> bool:
        """Perfect-negotiation role: polite when a peer that joined earlier is in the room."""
        return bool(self._older)

    def polite_toward(self, peer: str) -> bool:
        """The role toward one peer (rooms of more than two): polite toward older peers."""
        return peer in self._older

    @property
    def ice_servers(self) -> list[dict[str, Any]]:
        """The RTCIceServer dicts from the server (with fresh TURN credentials)."""
        return list(self._ice_servers)

    @property
    def peers(self) -> list[str]:
        """The other peers now in the room, in join order."""
        return list(self._peers)

    @property
    def connected(self) -> bool:
        return self._ready

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Join the room; returns after the welcome. Raises :class:`SignalingError` if refused."""
        if self._closed or self._closing:
            raise InvalidStateError("SignalingChannel is closed")
        if self._runner is not None:
            raise InvalidStateError("SignalingChannel.connect() was already called")
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        if self._session is None:
            self._session = aiohttp.ClientSession()
        self._runner = asyncio.create_task(self._run())
        try:
            await asyncio.shield(self._opened)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Leave the room (the others get ``left`` at once) and stop reconnecting."""
        if self._closed:
            await self._close_session()
            return
        self._closing = True
        ws = self._ws
        if ws is not None and not ws.closed:
            try:
                await ws.close()
            except (aiohttp.ClientError, OSError):
                pass
        runner = self._runner
        if runner is not None and runner is not asyncio.current_task():
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        self._finish(self.close_code or 1000, self.close_reason or "closed")
        await self._close_session()

    async def _close_session(self) -> None:
        # Also after the runner ended by itself (refused, connection lost for good).
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def __aenter__(self) -> SignalingChannel:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _finish(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._ready = False
        self.close_code, self.close_reason = code, reason
        self._inbox.put_nowait(None)
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(SignalingError(reason or "connection closed", code))
        self.dispatchEvent(Event("close", code=code, reason=reason))

    # -- sending ---------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        """Send a JSON object to the room (``"to"`` for one peer); buffered while reconnecting."""
        if self._closed or self._closing:
            raise InvalidStateError("SignalingChannel is closed")
        if not isinstance(message, dict):
            raise TypeError("a signaling message is a dict (a JSON object)")
        text = json.dumps(message, separators=(",", ":"))
        ws = self._ws
        if self._ready and ws is not None and not self._buffer:
            try:
                await ws.send_str(text)
                return
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                pass  # the socket died: keep the message for the next connection
        if len(self._buffer) >= self._max_buffer:
            raise OperationError(
                f"signaling send buffer full ({self._max_buffer} messages) while reconnecting"
            )
        self._buffer.append(text)

    # -- receiving -------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            message = await self._inbox.get()
            if message is None:
                self._inbox.put_nowait(None)  # let other iterators end too
                return
            yield message

    async def _run(self) -> None:
        delay = self._backoff_initial
        code, reason = 1006, "connection lost"
        first_failures = 0
        try:
            while not self._closing:
                welcomed, code, reason = await self._connect_once()
                if welcomed:
                    delay = self._backoff_initial
                if self._closing:
                    break
                if not self._reconnect or code in _FINAL_CODES:
                    break
                if code in (0, 1006) or not welcomed:
                    # Unreachable or lost (a dead server process): try the next server.
                    self._url_index = (self._url_index + 1) % len(self.urls)
                if self._opened is not None and not self._opened.done():
                    # The very first connection failed: report it rather than retry, once
                    # every server was tried.
                    first_failures += 1
                    if first_failures >= len(self.urls):
                        break
                    continue
                wait = delay * random.uniform(0.8, 1.2)
                self.dispatchEvent(Event("reconnecting", delay=wait, code=code))
                await asyncio.sleep(wait)
                delay = min(delay * 2, self._backoff_max)
        finally:
            if not self._closing:
                self._finish(code, reason)

    async def _connect_once(self) -> tuple[bool, int, str]:
        """One connection; returns (welcomed, close code, reason); code 0: no connection."""
        assert self._session is not None
        params = {"room": self.room}
        if self._peer_id:
            params["peer"] = self._peer_id
        if self._token:
            params["token"] = self._token
        try:
            ws = await self._session.ws_connect(
                self.url, params=params, heartbeat=self._heartbeat, autoping=True
            )
        except (aiohttp.ClientError, OSError) as exc:
            logger.debug("signaling connect to %s failed: %s", self.url, exc)
            return False, 0, f"cannot connect to {self.url}: {exc}"
        self._ws = ws
        welcomed = False
        refusal = ""
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if not isinstance(data, dict):
                    continue
                if not welcomed:
                    if data.get("type") == "welcome":
                        welcomed = True
                        await self._on_welcome(ws, data)
                    elif data.get("type") == "error":
                        refusal = str(data.get("error", ""))
                    continue
                self._on_message(data)
        except (aiohttp.ClientError, OSError) as exc:
            logger.debug("signaling connection error: %s", exc)
        finally:
            self._ready = False
            self._ws = None
        code = ws.close_code if ws.close_code is not None else 1006
        error = ws.exception()
        reason = refusal or (str(error) if error is not None else "") or "connection closed"
        return welcomed, int(code), reason

    async def _on_welcome(self, ws: aiohttp.ClientWebSocketResponse, data: dict[str, Any]) -> None:
        self.welcome = data
        peer = data.get("peer")
        if isinstance(peer, str):
            self._peer_id = peer
        servers = data.get("iceServers")
        self._ice_servers = [s for s in servers if isinstance(s, dict)] if servers else []
        peers = data.get("peers")
        self._peers = [p for p in peers if isinstance(p, str)] if isinstance(peers, list) else []
        older = data.get("politeTo")
        if isinstance(older, list):
            self._older = {p for p in older if isinstance(p, str)}
        else:
            self._older = set(self._peers) if data.get("polite") else set()
        # Flush what was sent while away, in order, before new sends may go straight out.
        while self._buffer:
            try:
                await ws.send_str(self._buffer[0])
            except (aiohttp.ClientError, ConnectionError, RuntimeError):
                return
            self._buffer.popleft()
        self._ready = True
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)
        self.dispatchEvent(Event("open", data=data))

    def _on_message(self, data: dict[str, Any]) -> None:
        kind = data.get("type")
        peer = data.get("peer")
        if kind == "joined" and isinstance(peer, str) and "from" not in data:
            if peer not in self._peers:
                self._peers.append(peer)
        elif kind == "left" and isinstance(peer, str) and "from" not in data:
            if peer in self._peers:
                self._peers.remove(peer)
            self._older.discard(peer)
        if self._inbox.qsize() >= 4096:
            # Nobody iterates: keep the newest; the "message" event still sees every message.
            self._inbox.get_nowait()
        self._inbox.put_nowait(data)
        self.dispatchEvent(Event("message", data=data))
