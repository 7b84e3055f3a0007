"""The peer connection's data channels: creation rules and routing of pipeline events.

W3C webrtc-pc 6.1 (createDataChannel: the TypeErrors and OperationErrors, clamping of
maxRetransmits/maxPacketLifeTime) and 6.2 (announcing remote channels, open/close events).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from rtcpeer.aio.connection import Connection
from rtcpeer.datachannel import RTCDataChannel
from rtcpeer.errors import OperationError
from rtcpeer.events import Event
from rtcpeer.sctp.channels import (
    AssociationClosed,
    AssociationError,
    BufferedAmountLow,
    ChannelClosed,
    ChannelClosing,
    ChannelCreated,
    ChannelError,
    ChannelEvent,
    ChannelMessage,
    ChannelOpen,
)

__all__ = ["FATAL_SCTP_ERRORS", "ChannelSet", "new_channel"]

logger = logging.getLogger(__name__)

# AssociationError kinds after which the SCTP core aborts the association: the channels then
# close with an "error" event (RTCError, errorDetail "sctp-failure") before "close".
FATAL_SCTP_ERRORS = frozenset({"reassembly-limit"})

_PRIORITIES = ("very-low", "low", "medium", "high")


def new_channel(
    label: str, opts: Mapping[str, Any], id_in_use: Callable[[int], bool]
) -> RTCDataChannel:
    """Validate createDataChannel() arguments as the W3C algorithm does; build the channel."""
    if not isinstance(label, str):
        raise TypeError("createDataChannel: label must be a string")
    protocol = opts.get("protocol", "")
    if not isinstance(protocol, str):
        raise TypeError("createDataChannel: protocol must be a string")
    if len(label.encode()) > 65535:
        raise TypeError("createDataChannel: label is longer than 65535 bytes")
    if len(protocol.encode()) > 65535:
        raise TypeError("createDataChannel: protocol is longer than 65535 bytes")
    priority = opts.get("priority", "low")
    if priority not in _PRIORITIES:
        # WebIDL enum conversion (RTCPriorityType, webrtc-priority): anything else is a TypeError.
        raise TypeError(f"createDataChannel: priority {priority!r} is not one of {_PRIORITIES}")
    negotiated = bool(opts.get("negotiated", False))
    ordered = bool(opts.get("ordered", True))
    mplt = opts.get("maxPacketLifeTime")
    mrtx = opts.get("maxRetransmits")
    for name, value in (("maxPacketLifeTime", mplt), ("maxRetransmits", mrtx)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"createDataChannel: {name} must be an int")
        if value is not None and value < 0:
            raise TypeError(f"createDataChannel: {name} must not be negative")
    if mplt is not None and mrtx is not None:
        raise TypeError("createDataChannel: maxPacketLifeTime and maxRetransmits both set")
    mplt = min(mplt, 65535) if mplt is not None else None
    mrtx = min(mrtx, 65535) if mrtx is not None else None
    ident = opts.get("id") if negotiated else None
    if negotiated and ident is None:
        raise TypeError("createDataChannel: a negotiated channel needs an id")
    if ident is not None:
        if isinstance(ident, bool) or not isinstance(ident, int) or not 0 <= ident <= 65534:
            raise TypeError(f"createDataChannel: id {ident!r} is not in 0..65534")
        if id_in_use(ident):
            raise OperationError(f"createDataChannel: id {ident} is already in use")
    return RTCDataChannel(
        label,
        ordered=ordered,
        maxPacketLifeTime=mplt,
        maxRetransmits=mrtx,
        protocol=protocol,
        negotiated=negotiated,
        id=ident,
        priority=priority,
    )


class ChannelSet:
    """The channels of one peer connection, before and after the SCTP transport exists."""

    def __init__(self, announce: Callable[[RTCDataChannel], None]) -> None:
        self.announce = announce  # fires "datachannel" on the peer connection
        self.channels: dict[int, RTCDataChannel] = {}
        self.pending: list[RTCDataChannel] = []
        self.opened = 0
        self.closed = 0
        self.sctp_errors: list[AssociationError] = []  # every one reported (getStats, tests)
        self.fatal_error: str | None = None

    def id_in_use(self, ident: int) -> bool:
        return ident in self.channels or any(c.id == ident for c in self.pending)

    def add(self, channel: RTCDataChannel, conn: Connection | None) -> None:
        channel.addEventListener("open", self._count_open)
        if conn is not None and conn.channels is not None:
            self._attach(channel, conn)
        else:
            self.pending.append(channel)

    def attach_pending(self, conn: Connection) -> None:
        # Explicit ids first, so automatic ids never take a negotiated channel's id.
        pending = sorted(self.pending, key=lambda c: c.id is None)
        self.pending = []
        for channel in pending:
            self._attach(channel, conn)

    def _attach(self, channel: RTCDataChannel, conn: Connection) -> None:
        assert conn.channels is not None
        try:
            channel._attach(conn.channels, conn.kick)
        except (OperationError, TypeError) as exc:
            logger.info("data channel %r could not be opened: %s", channel.label, exc)
            channel._on_closed(str(exc))
            return
        if channel.id is not None:
            self.channels[channel.id] = channel
        conn.kick()

    def _count_open(self, event: Event) -> None:
        self.opened += 1

    def on_event(self, ev: ChannelEvent, conn: Connection) -> None:
        kind = type(ev)
        channels = self.channels
        if kind is ChannelMessage:
            assert isinstance(ev, ChannelMessage)
            channel = channels.get(ev.id)
            if channel is not None:
                channel._on_message(ev.data)
        elif kind is ChannelOpen:
            assert isinstance(ev, ChannelOpen)
            channel = channels.get(ev.id)
            if channel is not None:
                channel._on_open()
        elif kind is ChannelCreated:
            assert isinstance(ev, ChannelCreated)
            self._on_remote_channel(ev, conn)
        elif kind is BufferedAmountLow:
            assert isinstance(ev, BufferedAmountLow)
            channel = channels.get(ev.id)
            if channel is not None:
                channel._on_buffered_amount_low()
        elif kind is ChannelClosing:
            assert isinstance(ev, ChannelClosing)
            channel = channels.get(ev.id)
            if channel is not None:
                channel._on_closing()
        elif kind is ChannelClosed:
            assert isinstance(ev, ChannelClosed)
            channel = channels.pop(ev.id, None)
            if channel is not None:
                self.closed += 1
                channel._on_closed(self.fatal_error)
        elif kind is ChannelError:
            assert isinstance(ev, ChannelError)
            channel = channels.get(ev.id)
            if channel is not None:
                channel._on_error(ev.reason)
        elif kind is AssociationError:
            assert isinstance(ev, AssociationError)
            self._on_association_error(ev)
        elif kind is AssociationClosed:
            error = self.fatal_error
            for channel in list(channels.values()):
                self.closed += 1
                channel._on_closed(error)
            channels.clear()

    def _on_association_error(self, ev: AssociationError) -> None:
        if len(self.sctp_errors) < 100:
            self.sctp_errors.append(ev)
        if ev.kind in FATAL_SCTP_ERRORS:
            logger.warning("SCTP association failed (%s): %s", ev.kind, ev.detail)
            if self.fatal_error is None:
                self.fatal_error = f"{ev.kind}: {ev.detail}"
        else:
            logger.info("SCTP: %s: %s", ev.kind, ev.detail)

    def _on_remote_channel(self, ev: ChannelCreated, conn: Connection) -> None:
        assert conn.channels is not None
        channel = RTCDataChannel(
            ev.label,
            ordered=ev.ordered,
            maxPacketLifeTime=ev.max_packet_life_time,
            maxRetransmits=ev.max_retransmits,
            protocol=ev.protocol,
            negotiated=False,
            id=ev.id,
        )
        channel._attach_remote(conn.channels, conn.kick)
        self.channels[ev.id] = channel
        self.opened += 1
        self.announce(channel)
        # The W3C "announce the channel as open" steps fire open right after datachannel.
        channel.dispatchEvent(Event("open"))

    def close_all(self) -> None:
        """The peer connection closed: every channel is closed (no events, as in the spec)."""
        for channel in list(self.channels.values()) + self.pending:
            if channel.readyState != "closed":
                self.closed += 1
            channel._ready_state = "closed"
        self.channels.clear()
        self.pending = []
