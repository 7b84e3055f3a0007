"""DTLS/SCTP transport and data channels on the peer connection: starting the
:class:`~rtcpeer.aio.connection.Connection`, createDataChannel and pipeline events.

Methods of :class:`rtcpeer.peerconnection.RTCPeerConnection`, written as functions taking the
peer connection as ``self`` and bound in the class body (no wrapper, no extra call).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rtcpeer.aio.connection import (
    MAX_PACKET_ATTRIBUTE,
    DtlsStateChanged,
)
from rtcpeer.datachannel import RTCDataChannel, RTCErrorEvent
from rtcpeer.errors import (
    InvalidStateError,
    OperationError,
    RTCError,
)
from rtcpeer.events import Event
from rtcpeer.pc.channels import new_channel
from rtcpeer.sctp.channels import (
    AssociationClosed,
    AssociationConnected,
    AssociationError,
    ChannelEvent,
)
from rtcpeer.sdp.jsep import (
    RemoteDescription,
)

if TYPE_CHECKING:
    from rtcpeer.peerconnection import RTCPeerConnection

__all__ = [
    "createDataChannel",
    "_start_transport",
    "_announce_channel",
    "_on_pipeline_event",
    "_report_sctp_error",
    "LOCAL_MAX_MESSAGE_SIZE",
    "_remote_max_packet",
]

logger = logging.getLogger("rtcpeer.peerconnection")

LOCAL_MAX_MESSAGE_SIZE = 262144


def _remote_max_packet(data: Any) -> int:
    """The peer's ``a=x-rtcpeer-max-packet`` (0 when absent or malformed)."""
    if data is None:
        return 0
    for name, value in data.attributes:
        if name == MAX_PACKET_ATTRIBUTE and value is not None and value.strip().isdigit():
            return int(value.strip())
    return 0


def _start_transport(self: RTCPeerConnection, role: str, remote: RemoteDescription) -> None:
    conn = self._conn
    if conn is None:
        return
    data = next((m for m in remote.media if m.is_data and not m.rejected), None)
    media = remote.transport_media()
    if media is None:
        return
    if conn.dtls is None:
        conn.start(
            self._certificate,
            role,
            media.fingerprints,
            remote_sctp_port=(data.sctp_port or 5000) if data is not None else 5000,
            remote_max_message_size=self._remote_max_message_size,
            local_max_message_size=LOCAL_MAX_MESSAGE_SIZE,
            remote_max_packet=_remote_max_packet(data),
        )
        self._chans.attach_pending(conn)
    elif [tuple(fp) for fp in media.fingerprints] != [tuple(fp) for fp in conn.remote_fingerprints]:
        logger.warning("the remote DTLS fingerprint changed; a new DTLS session is not supported")


def createDataChannel(
    self: RTCPeerConnection, label: str, options: Mapping[str, Any] | None = None, **kwargs: Any
) -> RTCDataChannel:
    if self._is_closed:
        raise InvalidStateError("createDataChannel() called on a closed RTCPeerConnection")
    opts = dict(options or {})
    opts.update(kwargs)
    channel = new_channel(label, opts, self._chans.id_in_use)
    conn = self._conn
    if conn is not None and conn.channels is not None:
        # W3C 6.1 step 20: once the DTLS role is known an id must be available; here the
        # ids available are Limits.max_channels (local and remote channels together).
        limit = conn.channels.max_channels
        if conn.channels.channel_count >= limit:
            raise OperationError(
                f"createDataChannel: no data channel id available ({limit} channels in use)"
            )
    self._chans.add(channel, self._conn)
    if not self._data_requested:
        self._data_requested = True
        self._update_negotiation_needed()
    return channel


def _announce_channel(self: RTCPeerConnection, channel: RTCDataChannel) -> None:
    self.dispatchEvent(Event("datachannel", channel=channel))


def _on_pipeline_event(self: RTCPeerConnection, ev: ChannelEvent | DtlsStateChanged) -> None:
    if isinstance(ev, DtlsStateChanged):
        self._dtls_state = ev.state
        self._sync_transports()  # RTCDtlsTransport events before connectionstatechange
        self._update_connection_state()
    elif self._conn is not None:
        self._chans.on_event(ev, self._conn)
        if type(ev) is AssociationError:
            self._report_sctp_error(ev)
        elif type(ev) is AssociationConnected or type(ev) is AssociationClosed:
            self._sync_transports()


def _report_sctp_error(self: RTCPeerConnection, ev: AssociationError) -> None:
    """Tell the application: an "error" RTCErrorEvent (errorDetail "sctp-failure") on the
    channel concerned (a message dropped as too big), else on the peer connection."""
    error = RTCError(f"{ev.kind}: {ev.detail}", errorDetail="sctp-failure")
    channel = self._chans.channels.get(ev.stream_id) if ev.stream_id is not None else None
    if channel is not None:
        channel.dispatchEvent(RTCErrorEvent(error))
    else:
        self.dispatchEvent(RTCErrorEvent(error))
