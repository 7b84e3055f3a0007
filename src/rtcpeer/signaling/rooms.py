"""Room membership and cross-server fan-out for the signaling server.

A *room* is named by an unguessable token that the caller creates and shares (MDN, "Lifetime of a
WebRTC session"). Each signaling server process keeps the WebSockets of its own peers; a
:class:`RoomBus` is what several processes share: who is in which room (with the join order that
decides perfect-negotiation roles) and the delivery of messages to peers held by *other* servers.

Two implementations: :class:`MemoryBus` (one process; several servers in one process may share a
:class:`MemoryBackplane`, which is how the multi-server logic is exercised without Redis) and
``rtcpeer.signaling.redisbus.RedisBus`` (Redis pub/sub and atomic scripts).

The server delivers to its *local* peers itself and hands the bus only what other servers need,
so a bus never re-delivers a server's own envelopes back to it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


class RoomFull(Exception):
    """The room already holds its maximum number of peers."""

    def __init__(self, room: str, size: int, expired: tuple[str, ...] = ()) -> None:
        super().__init__(f"room is full ({size} peers)")
        self.room = room
        self.size = size
        #: members found expired on the way (see :attr:`JoinResult.expired`)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class Member:
    """A peer in a room; ``seq`` is its join order (1 = first), fixed for its lifetime."""

    peer: str
    seq: int


@dataclass(frozen=True, slots=True)
class JoinResult:
    """What :meth:`RoomBus.join` found and did."""

    seq: int
    #: the peer id was already a member (a reconnect): keep its seq, announce nothing
    rejoin: bool
    #: the *other* members, in join order
    others: list[Member]
    #: on a rejoin, the server id that held the peer before (may be this server)
    previous_server: str | None = None
    #: members found expired (their server died) and removed on the way: announce them gone
    expired: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Envelope:
    """What servers exchange about a room.

    kind: ``"message"`` (``payload`` is the JSON text to hand to the peers, already carrying
    ``"from"``; ``to`` restricts it to one peer), ``"joined"`` / ``"left"`` (presence of
    ``peer``), ``"kick"`` (``peer`` reconnected to server ``origin``: drop the old socket without
    announcing a leave).
    """

    kind: str
    room: str
    peer: str
    origin: str
    to: str | None = None
    payload: str | None = None


Deliver = Callable[[Envelope], None]


class RoomBus(ABC):
    """Membership and fan-out shared by the signaling servers of a deployment."""

    def __init__(self, server_id: str) -> None:
        self.server_id = server_id

    @property
    def shared(self) -> bool:
        """True when other servers may exist, so envelopes must be published."""
        return True

    @abstractmethod
    async def open(self, deliver: Deliver) -> None:
        """Start; ``deliver`` is called with envelopes published by *other* servers."""

    @abstractmethod
    async def join(self, room: str, peer: str, max_size: int) -> JoinResult:
        """Add ``peer`` to ``room`` (or re-attach it to this server); raise :class:`RoomFull`."""

    @abstractmethod
    async def leave(self, room: str, peer: str) -> bool:
        """Remove ``peer`` if this server still owns it; True when it was removed."""

    @abstractmethod
    async def members(self, room: str) -> list[Member]:
        """All members of ``room`` in join order."""

    @abstractmethod
    async def publish(self, envelope: Envelope) -> None:
        """Hand ``envelope`` to the other servers watching its room."""

    @abstractmethod
    async def watch(self, room: str) -> None:
        """Start receiving envelopes for ``room`` (this server has a peer in it)."""

    @abstractmethod
    async def unwatch(self, room: str) -> None:
        """Stop receiving envelopes for ``room``."""

    async def refresh(self, rooms: dict[str, list[str]]) -> list[tuple[str, str]]:
        """Keep this server's peers alive; return ``(room, peer)`` pairs found expired.

        Called periodically with this server's peers by room. Only stores with expiry need it.
        """
        return []

    @abstractmethod
    async def close(self) -> None:
        """Stop; peers of this server are forgotten (now or when their membership expires)."""


@dataclass(slots=True)
class _MemoryRoom:
    next_seq: int = 1
    #: peer -> (seq, owning server id); dicts keep insertion order, which is join order
    members: dict[str, tuple[int, str]] = field(default_factory=dict)


class MemoryBackplane:
    """In-process state shared by the :class:`MemoryBus` instances of several servers."""

    def __init__(self) -> None:
        self.rooms: dict[str, _MemoryRoom] = {}
        self.servers: dict[str, Deliver] = {}
        self.watchers: dict[str, set[str]] = {}


class MemoryBus(RoomBus):
    """A :class:`RoomBus` inside one process (the default without Redis)."""

    def __init__(self, server_id: str, backplane: MemoryBackplane | None = None) -> None:
        super().__init__(server_id)
        self._private = backplane is None
        self._plane = backplane if backplane is not None else MemoryBackplane()

    @property
    def shared(self) -> bool:
        return not self._private

    async def open(self, deliver: Deliver) -> None:
        self._plane.servers[self.server_id] = deliver

    async def join(self, room: str, peer: str, max_size: int) -> JoinResult:
        state = self._plane.rooms.setdefault(room, _MemoryRoom())
        current = state.members.get(peer)
        others = [Member(p, s) for p, (s, _) in state.members.items() if p != peer]
        if current is not None:
            seq, previous = current
            state.members[peer] = (seq, self.server_id)
            return JoinResult(seq, True, others, previous)
        if len(state.members) >= max_size:
            if not state.members:
                del self._plane.rooms[room]
            raise RoomFull(room, max_size)
        seq = state.next_seq
        state.next_seq += 1
        state.members[peer] = (seq, self.server_id)
        return JoinResult(seq, False, others)

    async def leave(self, room: str, peer: str) -> bool:
        state = self._plane.rooms.get(room)
        if state is None:
            return False
        current = state.members.get(peer)
        if current is None or current[1] != self.server_id:
            return False
        del state.members[peer]
        if not state.members:
            del self._plane.rooms[room]
        return True

    async def members(self, room: str) -> list[Member]:
        state = self._plane.rooms.get(room)
        if state is None:
            return []
        return [Member(p, s) for p, (s, _) in state.members.items()]

    async def publish(self, envelope: Envelope) -> None:
        for server_id in tuple(self._plane.watchers.get(envelope.room, ())):
            if server_id == self.server_id:
                continue
            deliver = self._plane.servers.get(server_id)
            if deliver is not None:
                try:
                    deliver(envelope)
                except Exception:
                    logger.exception("delivery to server %s failed", server_id)

    async def watch(self, room: str) -> None:
        self._plane.watchers.setdefault(room, set()).add(self.server_id)

    async def unwatch(self, room: str) -> None:
        watchers = self._plane.watchers.get(room)
        if watchers is not None:
            watchers.discard(self.server_id)
            if not watchers:
                del self._plane.watchers[room]

    async def close(self) -> None:
        self._plane.servers.pop(self.server_id, None)
        for room in list(self._plane.watchers):
            await self.unwatch(room)
        # This process's peers are gone with it: tell the servers that remain.
        for room, state in list(self._plane.rooms.items()):
            for peer, (_, owner) in list(state.members.items()):
                if owner == self.server_id and await self.leave(room, peer):
                    await self.publish(Envelope("left", room, peer, self.server_id))
