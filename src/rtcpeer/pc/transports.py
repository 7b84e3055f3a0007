"""The W3C transport objects: RTCIceTransport, RTCDtlsTransport, RTCSctpTransport.

webrtc-pc 5.5 (RTCDtlsTransport), 5.6 (RTCIceTransport) and 6.1.1 (RTCSctpTransport). They are
thin views of the one pipeline a peer connection has (max-bundle: one ICE transport, one DTLS
association, one SCTP association; :class:`rtcpeer.aio.connection.Connection`): every attribute
is read from the internals when asked, nothing is copied. The peer connection calls
:meth:`PcTransports.sync` when the pipeline changes state; ``sync`` compares with what the page
last saw and fires ``statechange`` / ``gatheringstatechange`` / ``selectedcandidatepairchange`` /
``error`` (webrtc-pc 5.5.1, 5.6.1, 6.1.1.1). Closing the peer connection sets every state to
"closed" without events, as the spec's "close the connection" algorithm does.

The objects exist from the first time the application asks for one (``pc.sctp``,
``sender.transport``): before that nobody can listen, so no event is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rtcpeer.datachannel import RTCErrorEvent
from rtcpeer.errors import RTCError
from rtcpeer.events import Event, EventTarget
from rtcpeer.sdp.candidate import RTCIceCandidate

if TYPE_CHECKING:
    from rtcpeer.peerconnection import RTCPeerConnection
    from rtcpeer.sdp.candidate import Candidate

__all__ = [
    "PcTransports",
    "RTCDtlsTransport",
    "RTCIceCandidatePair",
    "RTCIceTransport",
    "RTCSctpTransport",
]


class RTCIceCandidatePair:
    """webrtc-pc 5.6 RTCIceCandidatePair: the ``local`` and ``remote`` candidates."""

    __slots__ = ("local", "remote")

    def __init__(self, local: RTCIceCandidate, remote: RTCIceCandidate) -> None:
        self.local = local
        self.remote = remote

    def __repr__(self) -> str:
        return f"RTCIceCandidatePair(local={self.local!r}, remote={self.remote!r})"


class RTCIceTransport(EventTarget):
    """webrtc-pc 5.6: the ICE transport of the peer connection (component "rtp")."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        super().__init__()
        self._pc = pc
        self.onstatechange: Any = None
        self.ongatheringstatechange: Any = None
        self.onselectedcandidatepairchange: Any = None

    @property
    def role(self) -> str:
        ice = self._pc._ice
        return ice.role if ice is not None else "unknown"

    @property
    def component(self) -> str:
        return "rtp"  # rtcp-mux is required: there is no RTCP component

    @property
    def state(self) -> str:
        ice = self._pc._ice
        if self._pc._is_closed:
            return "closed"
        return ice.state.value if ice is not None else "new"

    @property
    def gatheringState(self) -> str:
        ice = self._pc._ice
        return ice.gathering_state if ice is not None else "new"

    def _to_w3c(self, cand: Candidate, ufrag: str | None) -> RTCIceCandidate:
        mid, index = self._pc._transport_mid()
        return RTCIceCandidate(
            candidate=cand.to_sdp(), sdpMid=mid, sdpMLineIndex=index, usernameFragment=ufrag
        )

    def getLocalCandidates(self) -> list[RTCIceCandidate]:
        ice = self._pc._ice
        if ice is None:
            return []
        return [self._to_w3c(c, ice.local_ufrag) for c in ice.local_candidates]

    def getRemoteCandidates(self) -> list[RTCIceCandidate]:
        ice = self._pc._ice
        if ice is None:
            return []
        ufrag = ice.agent.remote_ufrag
        return [self._to_w3c(c, ufrag) for c in ice.agent.remote_candidates]

    def getSelectedCandidatePair(self) -> RTCIceCandidatePair | None:
        ice = self._pc._ice
        if ice is None or self._pc._is_closed:
            return None
        pair = ice.agent.selected_pair
        if pair is None:
            return None
        return RTCIceCandidatePair(
            self._to_w3c(pair.local, ice.local_ufrag),
            self._to_w3c(pair.remote, ice.agent.remote_ufrag),
        )

    def getLocalParameters(self) -> dict[str, str] | None:
        """RTCIceParameters of the local side (None before the transport exists)."""
        ice = self._pc._ice
        if ice is None:
            return None
        return {"usernameFragment": ice.local_ufrag, "password": ice.local_pwd}

    def getRemoteParameters(self) -> dict[str, str] | None:
        """RTCIceParameters from the remote description (None before there is one)."""
        creds = self._pc._remote_creds
        if creds is None:
            return None
        return {"usernameFragment": creds[0], "password": creds[1]}

    def __repr__(self) -> str:
        return f"<RTCIceTransport {self.role} state={self.state} gathering={self.gatheringState}>"


class RTCDtlsTransport(EventTarget):
    """webrtc-pc 5.5: the DTLS association every RTP sender/receiver and SCTP share."""

    def __init__(self, pc: RTCPeerConnection, ice: RTCIceTransport) -> None:
        super().__init__()
        self._pc = pc
        self._ice = ice
        self.onstatechange: Any = None
        self.onerror: Any = None

    @property
    def iceTransport(self) -> RTCIceTransport:
        return self._ice

    @property
    def state(self) -> str:
        conn = self._pc._conn
        if self._pc._is_closed:
            return "closed"
        return conn.dtls_state if conn is not None else "new"

    def getRemoteCertificates(self) -> list[bytes]:
        """The peer's certificate chain, DER encoded (the ArrayBuffers of the W3C API)."""
        conn = self._pc._conn
        dtls = conn.dtls if conn is not None else None
        der = dtls.remote_certificate if dtls is not None else None
        return [der] if der else []

    def __repr__(self) -> str:
        return f"<RTCDtlsTransport state={self.state}>"


class RTCSctpTransport(EventTarget):
    """webrtc-pc 6.1.1: the SCTP association carrying the data channels.

    Only the W3C members (``state``, ``maxMessageSize``, ``maxChannels``, ``transport``,
    ``onstatechange`` and the EventTarget methods). The internals (the data-channel core, the
    packet counters) are on the peer connection's :class:`~rtcpeer.aio.connection.Connection`,
    ``pc._conn``.
    """

    def __init__(self, pc: RTCPeerConnection, dtls: RTCDtlsTransport) -> None:
        super().__init__()
        self._pc = pc
        self._dtls = dtls
        self.onstatechange: Any = None

    @property
    def transport(self) -> RTCDtlsTransport:
        return self._dtls

    @property
    def state(self) -> str:
        """State: "connecting" until the association is up, "connected", then "closed"."""
        conn = self._pc._conn
        if self._pc._is_closed or conn is None or conn._closed:
            return "closed"
        core = conn.channels
        if core is None:
            return "connecting"
        if core._closed:
            return "closed"
        return "connected" if core.connected else "connecting"

    @property
    def maxMessageSize(self) -> float:
        """The largest message ``send()`` accepts: the peer's a=max-message-size (0 meaning
        "any size") capped by what rtcpeer sends (webrtc-pc 6.1.1.3)."""
        conn = self._pc._conn
        core = conn.channels if conn is not None else None
        remote = self._pc._remote_max_message_size if core is None else core.remote_max_message_size
        if core is None:
            return remote if remote else float("inf")
        cap = core.max_send_message_size
        return min(remote, cap) if remote else cap

    @property
    def maxChannels(self) -> int | None:
        """How many channels can be open at once; None until the association is up."""
        conn = self._pc._conn
        core = conn.channels if conn is not None else None
        if core is None or not core.connected:
            return None
        assoc = core.association
        streams = min(assoc.outbound_streams, assoc.inbound_streams) or 65535
        return min(streams, core.max_channels, 65535)

    def __repr__(self) -> str:
        return f"<RTCSctpTransport state={self.state} maxMessageSize={self.maxMessageSize}>"


class PcTransports:
    """The three objects of one peer connection and the states the page last saw."""

    __slots__ = ("_seen", "dtls", "ice", "sctp")

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.ice = RTCIceTransport(pc)
        self.dtls = RTCDtlsTransport(pc, self.ice)
        self.sctp = RTCSctpTransport(pc, self.dtls)
        self._seen = self._snapshot()

    def _snapshot(self) -> tuple[str, str, Any, str, str]:
        ice = self.ice._pc._ice
        pair = ice.agent.selected_pair if ice is not None else None
        key = (pair.local_key, pair.remote_addr) if pair is not None else None
        return (self.ice.state, self.ice.gatheringState, key, self.dtls.state, self.sctp.state)

    def sync(self, fire: bool = True) -> None:
        """Fire the events for every state that changed since the last call."""
        old, new = self._seen, self._snapshot()
        if old == new:
            return
        self._seen = new
        if not fire:
            return
        if new[1] != old[1]:
            self.ice.dispatchEvent(Event("gatheringstatechange"))
        if new[0] != old[0]:
            self.ice.dispatchEvent(Event("statechange"))
        if new[2] != old[2] and new[2] is not None:
            self.ice.dispatchEvent(Event("selectedcandidatepairchange"))
        if new[3] != old[3]:
            if new[3] == "failed":
                # webrtc-pc 5.5.1: "error" (errorDetail "dtls-failure") before "statechange".
                error = RTCError("the DTLS handshake failed", errorDetail="dtls-failure")
                self.dtls.dispatchEvent(RTCErrorEvent(error))
            self.dtls.dispatchEvent(Event("statechange"))
        if new[4] != old[4]:
            self.sctp.dispatchEvent(Event("statechange"))
