"""RTCDataChannel (W3C webrtc-pc section 6.2) over :class:`rtcpeer.sctp.channels.DataChannelCore`.

The channel object is a thin W3C face: state, options, events. Bytes move through the
connection pipeline (:mod:`rtcpeer.aio.connection`), which owns the SCTP association and calls
back into the channel (``_on_open``, ``_on_message``, ...) as core events arrive. A channel
created before the SCTP transport exists waits in "connecting" and is attached (stream id
chosen by DTLS role, RFC 8832 section 6) once negotiation has set up the transport.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rtcpeer.errors import InvalidStateError, RTCError, SyntaxError_
from rtcpeer.events import Event, EventTarget

if TYPE_CHECKING:
    from rtcpeer.sctp.channels import DataChannelCore

__all__ = ["MessageEvent", "RTCDataChannel", "RTCErrorEvent"]

logger = logging.getLogger(__name__)


class MessageEvent(Event):
    """A ``message`` event: ``event.data`` is ``str`` or ``bytes``."""

    def __init__(self, data: str | bytes) -> None:
        self.type = "message"
        self.target = None
        self.data = data


class RTCErrorEvent(Event):
    def __init__(self, error: RTCError) -> None:
        super().__init__("error", error=error)


class RTCDataChannel(EventTarget):
    """W3C RTCDataChannel. Create with ``pc.createDataChannel(label, options)``."""

    def __init__(
        self,
        label: str,
        *,
        ordered: bool = True,
        maxPacketLifeTime: int | None = None,
        maxRetransmits: int | None = None,
        protocol: str = "",
        negotiated: bool = False,
        id: int | None = None,
        priority: str = "low",
    ) -> None:
        super().__init__()
        self._label = label
        self._ordered = ordered
        self._max_packet_life_time = maxPacketLifeTime
        self._max_retransmits = maxRetransmits
        self._protocol = protocol
        self._negotiated = negotiated
        self._id = id
        self._priority = priority
        self._ready_state = "connecting"
        self._threshold = 0
        self._binary_type = "arraybuffer"
        self._core: DataChannelCore | None = None
        self._kick: Callable[[], None] | None = None
        self._closing_requested = False
        self._messages_sent = 0
        self._bytes_sent = 0
        self._messages_received = 0
        self._bytes_received = 0
        # W3C event handler attributes (EventTarget.dispatchEvent looks them up).
        self.onopen: Callable[[Any], Any] | None = None
        self.onmessage: Callable[[Any], Any] | None = None
        self.onclose: Callable[[Any], Any] | None = None
        self.onclosing: Callable[[Any], Any] | None = None
        self.onerror: Callable[[Any], Any] | None = None
        self.onbufferedamountlow: Callable[[Any], Any] | None = None

    # ------------------------------------------------------------------ attributes

    @property
    def label(self) -> str:
        return self._label

    @property
    def ordered(self) -> bool:
        return self._ordered

    @property
    def maxPacketLifeTime(self) -> int | None:
        return self._max_packet_life_time

    @property
    def maxRetransmits(self) -> int | None:
        return self._max_retransmits

    @property
    def protocol(self) -> str:
        return self._protocol

    @property
    def negotiated(self) -> bool:
        return self._negotiated

    @property
    def id(self) -> int | None:
        return self._id

    @property
    def priority(self) -> str:
        return self._priority

    @property
    def readyState(self) -> str:
        return self._ready_state

    @property
    def bufferedAmount(self) -> int:
        core = self._core
        if core is None or self._id is None:
            return 0
        return core.buffered_amount(self._id)

    @property
    def bufferedAmountLowThreshold(self) -> int:
        return self._threshold

    @bufferedAmountLowThreshold.setter
    def bufferedAmountLowThreshold(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TypeError("bufferedAmountLowThreshold must be a non-negative int")
        self._threshold = value
        if self._core is not None and self._id is not None and self._ready_state != "closed":
            self._core.set_buffered_amount_low_threshold(self._id, value)

    @property
    def binaryType(self) -> str:
        return self._binary_type

    @binaryType.setter
    def binaryType(self, value: str) -> None:
        if value not in ("arraybuffer", "blob"):
            raise SyntaxError_(f"binaryType {value!r} is not 'arraybuffer' or 'blob'")
        self._binary_type = value

    # ------------------------------------------------------------------ methods

    def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Queue one message; InvalidStateError unless open, TypeError when too big,
        OperationError when the SCTP send queue is full (W3C; nothing is queued then)."""
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"send() takes str, bytes, bytearray or memoryview, not {type(data)}")
        if self._ready_state != "open" or self._core is None or self._id is None:
            raise InvalidStateError(
                f"RTCDataChannel {self._label!r} is {self._ready_state}, not open"
            )
        # InvalidStateError (the association went away under us) and OperationError (the
        # send queue is full) go to the caller as they are.
        self._core.send(self._id, data)
        self._messages_sent += 1
        self._bytes_sent += len(data)
        kick = self._kick
        if kick is not None:
            kick()

    def close(self) -> None:
        """Start the closing procedure (RFC 8831 section 6.7)."""
        if self._ready_state in ("closing", "closed"):
            return
        self._closing_requested = True
        if self._core is None or self._id is None:
            # Never attached to a transport: nothing to reset.
            self._ready_state = "closed"
            self._fire_later("close")
            return
        self._ready_state = "closing"
        self._core.close(self._id)
        if self._kick is not None:
            self._kick()

    def __repr__(self) -> str:
        return f"<RTCDataChannel {self._label!r} id={self._id} {self._ready_state}>"

    # ------------------------------------------------------------------ pipeline side

    def _attach(self, core: DataChannelCore, kick: Callable[[], None]) -> None:
        """Bind to the SCTP transport; opens the stream (DCEP) when not yet opened remotely."""
        self._core = core
        self._kick = kick
        if self._ready_state == "closed":
            return
        if self._id is None or self._id not in core.channel_ids():
            self._id = core.open_channel(
                self._label,
                self._protocol,
                self._ordered,
                self._max_retransmits,
                self._max_packet_life_time,
                self._negotiated,
                self._id,
            )
        if self._threshold:
            core.set_buffered_amount_low_threshold(self._id, self._threshold)

    def _attach_remote(self, core: DataChannelCore, kick: Callable[[], None]) -> None:
        """A channel the peer opened with DCEP: already open."""
        self._core = core
        self._kick = kick
        self._ready_state = "open"

    def _on_open(self) -> None:
        if self._ready_state != "connecting":
            return
        self._ready_state = "open"
        self.dispatchEvent(Event("open"))

    def _on_message(self, data: str | bytes) -> None:
        if self._ready_state == "closed":
            return
        self._messages_received += 1
        self._bytes_received += len(data)
        # The hot path of every received message: dispatchEvent's work without its
        # generality (the "once" bookkeeping falls back to it).
        event = MessageEvent(data)
        event.target = self
        listeners = self._listeners.get("message")
        entries = tuple(listeners) if listeners else ()  # added while dispatching: not now
        for _, once in entries:
            if once:
                self.dispatchEvent(event)
                return
        handler = self.onmessage
        if handler is not None:
            self._call_fast(handler, event)
        for listener, _ in entries:
            self._call_fast(listener, event)

    def _call_fast(self, listener: Callable[[Any], Any], event: Event) -> None:
        try:
            result = listener(event)
        except Exception:
            logger.exception("RTCDataChannel listener for 'message' raised")
            return
        if result is not None and inspect.isawaitable(result):
            task = asyncio.ensure_future(self._await_listener(result, "message"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_buffered_amount_low(self) -> None:
        self.dispatchEvent(Event("bufferedamountlow"))

    def _on_closing(self) -> None:
        if self._ready_state in ("closing", "closed"):
            return
        self._ready_state = "closing"
        self.dispatchEvent(Event("closing"))

    def _on_error(self, reason: str) -> None:
        self.dispatchEvent(RTCErrorEvent(RTCError(reason, errorDetail="sctp-failure")))

    def _on_closed(self, error: str | None = None) -> None:
        if self._ready_state == "closed":
            return
        self._ready_state = "closed"
        if error:
            self._on_error(error)
        self.dispatchEvent(Event("close"))

    def _fire_later(self, type: str) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.dispatchEvent(Event(type))
            return
        loop.call_soon(self.dispatchEvent, Event(type))
