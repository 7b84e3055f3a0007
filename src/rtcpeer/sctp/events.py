"""Events and states of the sans-I/O SCTP association (:mod:`rtcpeer.sctp.association`).

State names follow RFC 9260 section 4; events are what the association reports through
``Association.events()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "AssociationError",
    "AssociationRestarted",
    "AssociationState",
    "Closed",
    "Connected",
    "DataReceived",
    "Event",
    "IncomingStreamsReset",
    "OutgoingStreamsReset",
    "StreamResetFailed",
]


class AssociationState(Enum):
    CLOSED = "closed"
    COOKIE_WAIT = "cookie-wait"
    COOKIE_ECHOED = "cookie-echoed"
    ESTABLISHED = "established"
    SHUTDOWN_PENDING = "shutdown-pending"
    SHUTDOWN_SENT = "shutdown-sent"
    SHUTDOWN_RECEIVED = "shutdown-received"
    SHUTDOWN_ACK_SENT = "shutdown-ack-sent"


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """The association reached ESTABLISHED."""


@dataclass(frozen=True, slots=True)
class DataReceived:
    """One complete user message, delivered in order for ordered streams."""

    stream_id: int
    ppid: int
    data: bytes


@dataclass(frozen=True, slots=True)
class IncomingStreamsReset:
    """The peer reset its outgoing streams (our incoming); their SSNs restart at 0."""

    stream_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OutgoingStreamsReset:
    """Our request to reset these outgoing streams was performed by the peer."""

    stream_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class StreamResetFailed:
    stream_ids: tuple[int, ...]
    result: int


@dataclass(frozen=True, slots=True)
class AssociationError:
    """A recoverable problem worth reporting: a limit hit by the peer, a protocol violation.

    ``kind`` is a stable short name (``"reassembly-limit"``, ``"message-too-big"``,
    ``"receive-buffer"``, ``"init-flood"``, ``"protocol-violation"``); ``detail`` is for humans.
    Fatal problems additionally end with :class:`Closed`. ``stream_id`` names the stream
    concerned when there is one (a ``"message-too-big"`` drop), else None.
    """

    kind: str
    detail: str
    stream_id: int | None = None


@dataclass(frozen=True, slots=True)
class AssociationRestarted:
    """The peer restarted (RFC 9260 5.2.4 case A): the association continues with new tags,
    but every stream was reset and data queued or in flight before the restart was dropped.
    The data-channel layer closes its channels (a restarted peer forgot them)."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The association is gone: shutdown completed (reason None), abort or failure."""

    reason: str | None = None


Event = (
    Connected
    | DataReceived
    | IncomingStreamsReset
    | OutgoingStreamsReset
    | StreamResetFailed
    | AssociationError
    | AssociationRestarted
    | Closed
)
