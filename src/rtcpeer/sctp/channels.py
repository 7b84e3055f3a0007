"""Sans-I/O WebRTC data channels over one SCTP association.

Implements RFC 8831 (data channel transport: one SCTP stream per channel in each direction,
section 6.4 stream-id parity by DTLS role, 6.6 PPIDs for string/binary/empty messages, 6.7
closing by an outgoing stream reset answered by the peer's reset) and RFC 8832 (DCEP: open,
ack, ordered delivery of user data until the ACK arrives, any user data counting as an implicit
ACK).

:class:`DataChannelCore` drives an :class:`~rtcpeer.sctp.association.Association`: call its
``receive``/``timeout``/``packets_to_send`` (they forward to the association) and read channel
events from :meth:`DataChannelCore.events` *after* ``packets_to_send`` (buffered amounts drop
when data is packetised, so BufferedAmountLow is raised there).

Errors raised to the caller: ``InvalidStateError`` (unknown or non-open channel),
``OperationError`` (no free stream id, too many channels, or the channel's queued bytes would
pass ``max_buffered_amount`` / the association's ``max_send_buffer``), :class:`MessageTooBig` (a ``TypeError`` as in the W3C
``send()`` algorithm) when a message exceeds the peer's ``a=max-message-size``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from rtcpeer.errors import InvalidStateError, OperationError
from rtcpeer.sctp.association import (
    Association,
    AssociationError,
    Closed,
    Connected,
    DataReceived,
    IncomingStreamsReset,
    OutgoingStreamsReset,
    StreamResetFailed,
)
from rtcpeer.sctp.chunks import ParseError
from rtcpeer.sctp.dcep import (
    PPID_BINARY,
    PPID_BINARY_EMPTY,
    PPID_BINARY_PARTIAL,
    PPID_DCEP,
    PPID_STRING,
    PPID_STRING_EMPTY,
    PPID_STRING_PARTIAL,
    DataChannelAck,
    DataChannelOpen,
    Priority,
    parse_dcep,
)
from rtcpeer.sctp.events import AssociationRestarted

__all__ = [
    "AssociationClosed",
    "AssociationError",
    "AssociationConnected",
    "BufferedAmountLow",
    "ChannelClosed",
    "ChannelClosing",
    "ChannelCreated",
    "ChannelError",
    "ChannelEvent",
    "ChannelMessage",
    "ChannelOpen",
    "ChannelState",
    "DataChannelCore",
    "MessageTooBig",
]

logger = logging.getLogger(__name__)


class MessageTooBig(TypeError):
    """A message larger than the remote ``max-message-size`` (W3C send() throws TypeError)."""


class ChannelState(Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssociationConnected:
    pass


@dataclass(frozen=True, slots=True)
class AssociationClosed:
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ChannelOpen:
    id: int


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    """The peer opened a channel with DCEP (we already answered with DATA_CHANNEL_ACK)."""

    id: int
    label: str
    protocol: str
    ordered: bool
    max_retransmits: int | None
    max_packet_life_time: int | None
    priority: int = Priority.LOW


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    id: int
    data: str | bytes


@dataclass(frozen=True, slots=True)
class ChannelClosing:
    """The peer started closing the channel (its outgoing stream was reset)."""

    id: int


@dataclass(frozen=True, slots=True)
class ChannelClosed:
    id: int


@dataclass(frozen=True, slots=True)
class ChannelError:
    id: int
    reason: str


@dataclass(frozen=True, slots=True)
class BufferedAmountLow:
    id: int


ChannelEvent = (
    AssociationConnected
    | AssociationError
    | AssociationClosed
    | ChannelOpen
    | ChannelCreated
    | ChannelMessage
    | ChannelClosing
    | ChannelClosed
    | ChannelError
    | BufferedAmountLow
)


@dataclass(slots=True)
class Channel:
    """Book-keeping for one data channel (read it with :meth:`DataChannelCore.channel`)."""

    id: int
    label: str
    protocol: str
    ordered: bool
    max_retransmits: int | None
    max_packet_life_time: int | None
    negotiated: bool
    priority: int = Priority.LOW
    state: ChannelState = ChannelState.CONNECTING
    acked: bool = False  # DCEP ACK seen (or negotiated / remote-opened)
    open_sent: bool = False
    threshold: int = 0
    last_buffered: int = 0
    reset_out: bool = False  # our outgoing stream reset was performed
    reset_in: bool = False  # the peer reset its outgoing stream
    partial: bytes = b""  # deprecated PPID 52/54 pieces awaiting the final piece


class DataChannelCore:
    """Data channels multiplexed on one association. See the module docstring."""

    def __init__(
        self,
        association: Association,
        is_dtls_client: bool,
        *,
        max_channels: int = 65535,
        remote_max_message_size: int = 65536,
        max_message_size: int | None = None,
        max_buffered_amount: int = 16 * 1024 * 1024,
        max_send_message_size: int = 16 * 1024 * 1024,
    ) -> None:
        self.association = association
        self.is_dtls_client = is_dtls_client
        self.max_channels = max_channels
        # Per channel, as Chromium's 16 MiB: one channel cannot take the whole association's
        # send buffer (the association enforces its own total, max_send_buffer).
        self.max_buffered_amount = max_buffered_amount
        # What we send when the peer says "no limit" (a=max-message-size:0) or a huge one.
        self.max_send_message_size = max_send_message_size
        self.remote_max_message_size = remote_max_message_size
        self.max_message_size = (
            association.max_message_size if max_message_size is None else max_message_size
        )
        self._channels: dict[int, Channel] = {}
        self._events: list[ChannelEvent] = []
        self._connected = False
        self._closed = False

    # --- sans-I/O plumbing (forwarded to the association) ---------------------------------

    def connect(self, now: float) -> None:
        self.association.connect(now)
        self._process()

    def receive(self, packet: bytes | bytearray | memoryview, now: float) -> None:
        self.association.receive(packet, now)
        self._process()

    def timeout(self, now: float) -> None:
        self.association.timeout(now)
        self._process()

    def next_timeout(self) -> float | None:
        return self.association.next_timeout()

    def packets_to_send(self) -> list[bytes]:
        out = self.association.packets_to_send()
        self._process()
        return out

    def events(self) -> list[ChannelEvent]:
        self._process()
        out = self._events
        self._events = []
        return out

    def shutdown(self, now: float) -> None:
        self.association.shutdown(now)
        self._process()

    def abort(self, reason: str = "") -> None:
        self.association.abort(reason)
        self._process()

    def set_remote_max_message_size(self, size: int) -> None:
        """From the peer's ``a=max-message-size`` (0 means no limit, RFC 8841 section 6)."""
        self.remote_max_message_size = size

    @property
    def connected(self) -> bool:
        return self._connected

    # --- channels -------------------------------------------------------------------------

    def open_channel(
        self,
        label: str,
        protocol: str = "",
        ordered: bool = True,
        max_retransmits: int | None = None,
        max_packet_life_time: int | None = None,
        negotiated: bool = False,
        id: int | None = None,
        priority: int = Priority.LOW,
    ) -> int:
        """Create a channel and return its stream id (chosen by DTLS role when ``id`` is None).

        ``max_packet_life_time`` is in milliseconds (W3C). DATA_CHANNEL_OPEN is sent at once if
        the association is up, otherwise when it connects.
        """
        if self._closed:
            raise InvalidStateError("the SCTP association is closed")
        if max_retransmits is not None and max_packet_life_time is not None:
            raise TypeError("max_retransmits and max_packet_life_time are mutually exclusive")
        if len(label.encode("utf-8")) > 65535 or len(protocol.encode("utf-8")) > 65535:
            raise TypeError("label and protocol must be at most 65535 bytes in UTF-8")
        if len(self._channels) >= self.max_channels:
            raise OperationError(f"too many data channels (limit {self.max_channels})")
        limit = 65535  # stream 65535 is reserved (W3C createDataChannel)
        if self._connected and self.association.outbound_streams:
            limit = min(limit, self.association.outbound_streams)
        if id is None:
            if negotiated:
                raise TypeError("a negotiated channel needs an explicit id")
            sid = 0 if self.is_dtls_client else 1
            while sid in self._channels:
                sid += 2
            if sid >= limit:
                raise OperationError(f"no free stream id below {limit}")
        else:
            sid = id
            if not 0 <= sid < limit:
                raise TypeError(f"stream id {sid} is outside 0..{limit - 1}")
            if sid in self._channels:
                raise OperationError(f"stream id {sid} is already in use")
        ch = Channel(
            sid,
            label,
            protocol,
            ordered,
            max_retransmits,
            max_packet_life_time,
            negotiated,
            priority,
        )
        ch.acked = negotiated
        self._channels[sid] = ch
        if self._connected:
            self._start_channel(ch)
        return sid

    def channel(self, id: int) -> Channel:
        ch = self._channels.get(id)
        if ch is None:
            raise InvalidStateError(f"no data channel with id {id}")
        return ch

    def channel_ids(self) -> list[int]:
        return sorted(self._channels)

    @property
    def channel_count(self) -> int:
        """Channels in use (local and remote, not yet closed): at most ``max_channels``."""
        return len(self._channels)

    def send(self, id: int, data: str | bytes | bytearray | memoryview) -> None:
        """Send one message: str uses PPID 51 (56 if empty), bytes PPID 53 (57 if empty)."""
        ch = self._channels.get(id)
        if ch is None or ch.state is not ChannelState.OPEN:
            state = ch.state.value if ch else "closed"
            raise InvalidStateError(f"data channel {id} is {state}, not open")
        if isinstance(data, str):
            payload = data.encode("utf-8")
            ppid = PPID_STRING if payload else PPID_STRING_EMPTY
        else:
            payload = bytes(data)
            ppid = PPID_BINARY if payload else PPID_BINARY_EMPTY
        limit = self.remote_max_message_size
        cap = self.max_send_message_size
        if len(payload) > cap and (not limit or limit > cap):
            raise MessageTooBig(
                f"message of {len(payload)} bytes exceeds the largest message we send ({cap})"
            )
        if limit and len(payload) > limit:
            raise MessageTooBig(
                f"message of {len(payload)} bytes exceeds the remote max-message-size {limit}"
            )
        if not payload:
            payload = b"\x00"  # RFC 8831 6.6: empty messages carry one byte with PPID 56/57
        queued = self.association.buffered_amount(id)
        if queued + len(payload) > self.max_buffered_amount:
            raise OperationError(
                f"send queue of data channel {id} is full: {queued} bytes queued, limit "
                f"{self.max_buffered_amount}"
            )
        self._send(ch, ppid, payload)
        ch.last_buffered = queued + len(payload)  # what association.send just queued

    def close(self, id: int) -> None:
        """Start closing: reset our outgoing stream once queued data is sent (RFC 8831 6.7)."""
        ch = self._channels.get(id)
        if ch is None or ch.state in (ChannelState.CLOSING, ChannelState.CLOSED):
            return
        if not self._connected:
            self._finish(ch)
            return
        ch.state = ChannelState.CLOSING
        self.association.reset_streams([id])

    def buffered_amount(self, id: int) -> int:
        """Bytes queued on the channel that have not been handed to the network yet."""
        return self.association.buffered_amount(id) if id in self._channels else 0

    def set_buffered_amount_low_threshold(self, id: int, n: int) -> None:
        self.channel(id).threshold = n

    # --- internals ------------------------------------------------------------------------

    def _send(self, ch: Channel, ppid: int, payload: bytes) -> None:
        # Until the DCEP ACK arrives user data must go ordered and reliable (RFC 8832 6).
        reliable = not ch.acked
        life = ch.max_packet_life_time
        self.association.send(
            ch.id,
            ppid,
            payload,
            ordered=ch.ordered or reliable,
            max_retransmits=None if reliable else ch.max_retransmits,
            max_lifetime=None if reliable or life is None else life / 1000.0,
        )

    def _start_channel(self, ch: Channel) -> None:
        if ch.negotiated:
            ch.state = ChannelState.OPEN
            self._events.append(ChannelOpen(ch.id))
            return
        if ch.open_sent:
            return
        ch.open_sent = True
        msg = DataChannelOpen.for_channel(
            ch.label,
            ch.protocol,
            ch.ordered,
            ch.max_retransmits,
            ch.max_packet_life_time,
            ch.priority,
        )
        self.association.send(ch.id, PPID_DCEP, msg.encode())

    def _process(self) -> None:
        assoc = self.association
        for ev in assoc.events():
            if type(ev) is DataReceived:
                self._on_data(ev)
            elif isinstance(ev, Connected):
                self._connected = True
                self._events.append(AssociationConnected())
                for pending in list(self._channels.values()):
                    try:
                        self._start_channel(pending)
                    except (InvalidStateError, OperationError, ValueError) as exc:
                        self._events.append(ChannelError(pending.id, f"cannot open: {exc}"))
                        self._finish(pending)
            elif isinstance(ev, IncomingStreamsReset):
                for sid in ev.stream_ids:
                    self._on_incoming_reset(sid)
            elif isinstance(ev, OutgoingStreamsReset):
                for sid in ev.stream_ids:
                    done = self._channels.get(sid)
                    if done is not None:
                        done.reset_out = True
                        if done.reset_in:
                            self._finish(done)
            elif isinstance(ev, StreamResetFailed):
                for sid in ev.stream_ids:
                    failed = self._channels.get(sid)
                    if failed is not None:
                        self._events.append(
                            ChannelError(sid, f"peer refused the stream reset ({ev.result})")
                        )
                        self._finish(failed)
            elif isinstance(ev, AssociationError):
                self._events.append(ev)
            elif isinstance(ev, AssociationRestarted):
                # The restarted peer forgot every channel: close ours (their streams were
                # reset with the association) and report it; the association stays up.
                for gone in list(self._channels.values()):
                    self._finish(gone)
                self._events.append(
                    AssociationError("peer-restart", "the peer restarted; channels were closed")
                )
            elif isinstance(ev, Closed):
                self._closed = True
                self._connected = False
                for gone in list(self._channels.values()):
                    self._finish(gone)
                self._events.append(AssociationClosed(ev.reason))
        decreased = assoc.take_buffer_decreased()
        if decreased:
            for sid in decreased:
                ch = self._channels.get(sid)
                if ch is None:
                    continue
                amount = assoc.buffered_amount(sid)
                if ch.last_buffered > ch.threshold >= amount:
                    self._events.append(BufferedAmountLow(sid))
                ch.last_buffered = amount

    def _on_data(self, ev: DataReceived) -> None:
        sid = ev.stream_id
        ppid = ev.ppid
        ch = self._channels.get(sid)
        if ppid == PPID_DCEP:
            self._on_dcep(sid, ch, ev.data)
            return
        if ch is None or ch.state is ChannelState.CLOSED:
            logger.debug("data on stream %d without a channel dropped", sid)
            return
        if not ch.acked:
            self._got_ack(ch)  # user data is an implicit ACK (RFC 8832 6)
        if ppid == PPID_BINARY:
            data: str | bytes = ev.data
            if ch.partial:
                data, ch.partial = ch.partial + ev.data, b""
        elif ppid == PPID_STRING:
            raw = ev.data
            if ch.partial:
                raw, ch.partial = ch.partial + raw, b""
            try:
                data = raw.decode("utf-8")
            except UnicodeDecodeError:
                self._events.append(ChannelError(sid, "string message is not valid UTF-8"))
                return
        elif ppid == PPID_STRING_EMPTY:
            data = ""
        elif ppid == PPID_BINARY_EMPTY:
            data = b""
        elif ppid in (PPID_STRING_PARTIAL, PPID_BINARY_PARTIAL):
            # Deprecated (RFC 8831 section 8): pieces until the final 51/53 message.
            if len(ch.partial) + len(ev.data) > self.max_message_size:
                ch.partial = b""
                self._events.append(
                    ChannelError(sid, f"partial message exceeds {self.max_message_size} bytes")
                )
                return
            ch.partial += ev.data
            return
        else:
            self._events.append(ChannelError(sid, f"unknown PPID {ppid} dropped"))
            return
        self._events.append(ChannelMessage(sid, data))

    def _on_dcep(self, sid: int, ch: Channel | None, raw: bytes) -> None:
        try:
            msg = parse_dcep(raw)
        except ParseError as exc:
            self._events.append(ChannelError(sid, f"bad DCEP message: {exc}"))
            return
        if isinstance(msg, DataChannelAck):
            if ch is not None and not ch.acked:
                self._got_ack(ch)
            return
        if ch is not None:
            self._events.append(
                ChannelError(sid, f"DATA_CHANNEL_OPEN for stream {sid} which is already in use")
            )
            return
        if len(self._channels) >= self.max_channels:
            # Refuse by closing the stream (RFC 8832 has no "reject"): the peer sees it closed.
            self._events.append(
                ChannelError(sid, f"DATA_CHANNEL_OPEN refused: {self.max_channels} channels open")
            )
            self.association.reset_streams([sid])
            return
        ch = Channel(
            sid,
            msg.label,
            msg.protocol,
            msg.ordered,
            msg.max_retransmits,
            msg.max_packet_life_time,
            False,
            msg.priority,
            ChannelState.OPEN,
            acked=True,
            open_sent=True,
        )
        try:
            self.association.send(sid, PPID_DCEP, DataChannelAck().encode())
        except (InvalidStateError, OperationError) as exc:  # shutting down, stream resetting
            self._events.append(ChannelError(sid, f"cannot accept DATA_CHANNEL_OPEN: {exc}"))
            return
        self._channels[sid] = ch
        self._events.append(
            ChannelCreated(
                sid,
                msg.label,
                msg.protocol,
                msg.ordered,
                msg.max_retransmits,
                msg.max_packet_life_time,
                msg.priority,
            )
        )

    def _got_ack(self, ch: Channel) -> None:
        ch.acked = True
        if ch.state is ChannelState.CONNECTING:
            ch.state = ChannelState.OPEN
            self._events.append(ChannelOpen(ch.id))

    def _on_incoming_reset(self, sid: int) -> None:
        ch = self._channels.get(sid)
        if ch is None:
            return
        ch.reset_in = True
        ch.partial = b""
        if ch.state in (ChannelState.OPEN, ChannelState.CONNECTING):
            ch.state = ChannelState.CLOSING
            self._events.append(ChannelClosing(sid))
            self.association.reset_streams([sid])
        elif ch.reset_out:
            self._finish(ch)

    def _finish(self, ch: Channel) -> None:
        if ch.state is ChannelState.CLOSED:
            return
        ch.state = ChannelState.CLOSED
        self._channels.pop(ch.id, None)
        self._events.append(ChannelClosed(ch.id))
