"""ICE on the peer connection: remote credentials and candidates, the ICE transport and its
callbacks (trickle, gathering, iceCandidatePoolSize, states), addIceCandidate and restartIce.

Methods of :class:`rtcpeer.peerconnection.RTCPeerConnection`, written as functions taking the
peer connection as ``self`` and bound in the class body (no wrapper, no extra call).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from rtcpeer.aio.connection import (
    Connection,
)
from rtcpeer.aio.ice import IceState, IceTransport
from rtcpeer.errors import (
    InvalidStateError,
    OperationError,
)
from rtcpeer.events import Event
from rtcpeer.ice.agent import IceAgent
from rtcpeer.pc.description import (
    RTCPeerConnectionIceErrorEvent,
    RTCPeerConnectionIceEvent,
)
from rtcpeer.pc.model import candidate_init, ice_string
from rtcpeer.sdp.candidate import Candidate, RTCIceCandidate
from rtcpeer.sdp.errors import SDPParseError
from rtcpeer.sdp.jsep import (
    RemoteDescription,
    RemoteMedia,
)

if TYPE_CHECKING:
    from rtcpeer.peerconnection import RTCPeerConnection

__all__ = [
    "_on_candidate_error",
    "_apply_remote_ice",
    "_ensure_ice",
    "_local_restart",
    "_start_gathering",
    "_start_pool",
    "_discard_pool",
    "_release_pool",
    "_on_local_candidate",
    "_transport_mid",
    "_on_gathering_state",
    "_on_selected_pair",
    "_on_ice_state",
    "_update_connection_state",
    "addIceCandidate",
    "_add_ice_candidate",
    "restartIce",
]

logger = logging.getLogger("rtcpeer.peerconnection")


def _apply_remote_ice(self: RTCPeerConnection, parsed: RemoteDescription, offer: bool) -> None:
    ice = self._ice
    media = parsed.transport_media()
    if ice is None or media is None or not media.ice_ufrag or not media.ice_pwd:
        return
    creds = (media.ice_ufrag, media.ice_pwd)
    if self._remote_creds is not None and creds != self._remote_creds:
        # The peer restarted ICE. As answerer we restart too (new local credentials in
        # the answer); as offerer we restarted already in setLocalDescription.
        if offer and self._restart_creds is None:
            self._restart_creds = (ice_string(8), ice_string(24))
        if offer:
            ufrag, pwd = self._restart_creds or (ice_string(8), ice_string(24))
            self._local_restart(ufrag, pwd)
            self._start_gathering(ice)
    if creds != self._remote_creds:
        self._remote_creds = creds
        ice.set_remote_credentials(*creds)
        for line in media.candidates:
            try:
                cand = Candidate.from_sdp(line)
            except SDPParseError:
                logger.debug("ignoring bad remote candidate %r", line)
                continue
            ice.add_remote_candidate(cand)
        if media.end_of_candidates:
            ice.add_remote_candidate(None)
    if media.max_message_size is not None:
        self._remote_max_message_size = media.max_message_size
        if self._conn is not None:
            self._conn.set_remote_max_message_size(media.max_message_size)


# ------------------------------------------------------------------ ICE


def _ensure_ice(self: RTCPeerConnection, controlling: bool) -> IceTransport:
    if self._ice is not None:
        if self._pool is not None and not self._pool_role_set:
            # A pooled transport (iceCandidatePoolSize) learns its role now.
            self._pool_role_set = True
            self._ice.set_role(controlling)
        return self._ice
    config = self._config
    ice = IceTransport(
        controlling,
        ice_servers=config.ice_server_dicts(),
        ice_transport_policy=config.iceTransportPolicy,
        include_loopback=config.includeLoopback,
        tcp=config.iceTcp,
        consent_timeout=config.iceConsentTimeout,
        ufrag=self._ufrag,
        pwd=self._pwd,
        on_candidate=self._on_local_candidate,
        on_state_change=self._on_ice_state,
        on_gathering_state_change=self._on_gathering_state,
        on_selected_pair_change=self._on_selected_pair,
        on_candidate_error=self._on_candidate_error,
        agent=IceAgent(
            controlling,
            self._ufrag,
            self._pwd,
            max_remote_candidates=self._limits.max_remote_candidates,
        ),
    )
    self._ice = ice
    self._conn = Connection(ice, self._on_pipeline_event, limits=self._limits)
    return ice


def _local_restart(self: RTCPeerConnection, ufrag: str, pwd: str) -> None:
    """Restart the ICE agent with the credentials the offer/answer carries."""
    ice = self._ice
    assert ice is not None
    ice.restart()
    # IceAgent.restart() picks its own credentials; the description already carries
    # ours, so they are put in place (see the report: an API for this is requested).
    gen = getattr(ice.agent, "_gen", None)
    if gen is not None:
        gen.local_ufrag = ufrag
        gen.local_pwd = pwd
    self._ufrag, self._pwd = ufrag, pwd
    self._local_candidates = []
    self._end_of_candidates = False
    self._remote_creds = None
    self._restart_creds = None


def _start_gathering(self: RTCPeerConnection, ice: IceTransport) -> None:
    if self._pool is not None:
        self._release_pool()
        return
    if ice.gathering_state == "new":
        ice.start_gathering()


# W3C webrtc-pc 4.4.1.1/4.4.1.5 (iceCandidatePoolSize): gathering starts at construction
# or setConfiguration; what it finds is held (not signalled, iceGatheringState stays
# "new") until setLocalDescription, then emitted through icecandidate as usual.


def _start_pool(self: RTCPeerConnection) -> None:
    if (
        self._ice is not None
        or self._is_closed
        or self._config.iceCandidatePoolSize <= 0
        or self._pending_local is not None
        or self._current_local is not None
    ):
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop: the pool is only a hint; gathering starts at setLocalDescription
    self._pool = []
    self._pool_role_set = False
    # The role is a guess until a description is applied (IceTransport.set_role).
    self._ensure_ice(controlling=True).start_gathering()


def _discard_pool(self: RTCPeerConnection) -> None:
    """setConfiguration() with iceCandidatePoolSize 0 before setLocalDescription."""
    ice = self._ice
    if self._pool is None or ice is None:
        return
    self._pool = None
    self._ice = None
    self._transports = None
    conn, self._conn = self._conn, None
    task = asyncio.get_running_loop().create_task(conn.close() if conn is not None else ice.close())
    self._gather_tasks.add(task)
    task.add_done_callback(self._gather_tasks.discard)


def _release_pool(self: RTCPeerConnection) -> None:
    """setLocalDescription: pooled candidates and gathering states go out, in order, as
    queued tasks (as a browser fires them), so they never precede the description."""
    pool = self._pool
    self._pool = None
    if not pool:
        if self._ice is not None and self._ice.gathering_state == "new":
            self._ice.start_gathering()
        return
    held: list[tuple[str, Any]] = list(pool)
    pool.clear()
    self._pool_flush = held

    def flush() -> None:
        items, self._pool_flush = self._pool_flush, None
        for kind, value in items or ():
            if kind == "c":
                self._on_local_candidate(value)
            else:
                self._on_gathering_state(value)

    asyncio.get_running_loop().call_soon(flush)


def _on_local_candidate(self: RTCPeerConnection, candidate: Candidate | None) -> None:
    if self._is_closed:
        return
    held = self._pool if self._pool is not None else self._pool_flush
    if held is not None:
        held.append(("c", candidate))
        return
    if candidate is None:
        self._end_of_candidates = True
        return
    line = candidate.to_sdp()
    self._local_candidates.append(line)
    mid, index = self._transport_mid()
    event = RTCPeerConnectionIceEvent(
        RTCIceCandidate(
            candidate=line, sdpMid=mid, sdpMLineIndex=index, usernameFragment=self._ufrag
        )
    )
    self.dispatchEvent(event)


def _transport_mid(self: RTCPeerConnection) -> tuple[str, int]:
    local = self._pending_local or self._current_local
    if local is not None:
        for i, s in enumerate(local.sections):
            if not s.rejected:
                return s.mid, i
    return "0", 0


def _on_gathering_state(self: RTCPeerConnection, state: str) -> None:
    held = self._pool if self._pool is not None else self._pool_flush
    if held is not None and not self._is_closed:
        held.append(("g", state))
        return
    if self._is_closed or state == self._ice_gathering_state:
        return
    self._ice_gathering_state = state
    self._sync_transports()
    if state == "complete":
        self._end_of_candidates = True
        self.dispatchEvent(RTCPeerConnectionIceEvent(None))
    self.dispatchEvent(Event("icegatheringstatechange"))


def _on_candidate_error(
    self: RTCPeerConnection,
    url: str,
    code: int,
    text: str,
    address: str | None = None,
    port: int | None = None,
) -> None:
    # W3C RTCPeerConnectionIceErrorEvent: address/port of the local candidate's base
    # (None when it is not safe to expose), the server's url, STUN error code and text.
    if not self._is_closed:
        self.dispatchEvent(RTCPeerConnectionIceErrorEvent(address, port, url, code, text))


def _on_selected_pair(self: RTCPeerConnection, local: Candidate, remote: Candidate) -> None:
    if self._conn is not None and not self._is_closed:
        self._conn.selected_pair_changed()
        self._sync_transports()


def _on_ice_state(self: RTCPeerConnection, state: IceState) -> None:
    if self._is_closed:
        return
    if self._conn is not None:
        self._conn.ice_state_changed(state)
    self._sync_transports()  # RTCIceTransport "statechange" before the pc's event
    value = state.value
    if value != self._ice_connection_state:
        self._ice_connection_state = value
        self.dispatchEvent(Event("iceconnectionstatechange"))
    self._update_connection_state()


def _update_connection_state(self: RTCPeerConnection) -> None:
    if self._is_closed:
        return
    ice = self._ice_connection_state
    dtls = self._dtls_state
    # The table of W3C webrtc-pc 4.3.3 (RTCPeerConnectionState) for one transport.
    if ice == "failed" or dtls == "failed":
        new = "failed"
    elif ice == "disconnected":
        new = "disconnected"
    elif ice in ("new", "closed"):
        # 4.3.3 "new": all RTCIceTransports are "new" or "closed", whatever DTLS does.
        new = "new"
    elif ice in ("connected", "completed", "closed") and dtls in ("connected", "closed"):
        new = "connected"
    else:
        new = "connecting"
    if new != self._connection_state:
        self._connection_state = new
        self.dispatchEvent(Event("connectionstatechange"))


async def addIceCandidate(self: RTCPeerConnection, candidate: Any = None) -> None:
    init = candidate_init(candidate)
    if init["candidate"] and init["sdpMid"] is None and init["sdpMLineIndex"] is None:
        raise TypeError("addIceCandidate: sdpMid and sdpMLineIndex are both null")
    return await self._chain("addIceCandidate", lambda: self._add_ice_candidate(init))


async def _add_ice_candidate(self: RTCPeerConnection, init: dict[str, Any]) -> None:
    remote = self._pending_remote or self._current_remote
    if remote is None:
        raise InvalidStateError(
            "addIceCandidate() called before setRemoteDescription() "
            f"(signalingState {self._signaling_state!r})"
        )
    mid, index = init["sdpMid"], init["sdpMLineIndex"]
    media: RemoteMedia | None = None
    if mid is not None or index is not None:
        media = remote.parsed.find(mid, index)
        if media is None:
            what = f"sdpMid {mid!r}" if mid is not None else f"sdpMLineIndex {index}"
            raise OperationError(f"addIceCandidate: no m= section matches {what}")
    ufrag = init["usernameFragment"]
    transport = remote.parsed.transport_media()
    if ufrag is not None and (transport is None or ufrag != transport.ice_ufrag):
        raise OperationError(
            f"addIceCandidate: usernameFragment {ufrag!r} matches no remote ICE generation"
        )
    text: str = init["candidate"]
    if not text:
        if self._ice is not None:
            self._ice.add_remote_candidate(None)
        target = media.index if media is not None else 0
        remote.added.append((target, "a=end-of-candidates"))
        return
    try:
        cand = Candidate.from_sdp(text)
    except SDPParseError as exc:
        raise OperationError(f"addIceCandidate: cannot parse candidate: {exc}") from exc
    if media is not None and media.rejected:
        return
    if self._ice is not None:
        self._ice.add_remote_candidate(cand)
    # The description keeps no more candidates than the ICE agent does (the agent drops
    # and counts the rest): a peer trickling thousands must not grow it without bound.
    kept = sum(1 for _, added in remote.added if added.startswith("a=candidate:"))
    if transport is not None:
        kept += len(transport.candidates)
    if kept >= self._limits.max_remote_candidates:
        return
    line = "a=" + (text if text.startswith("candidate:") else "candidate:" + text)
    remote.added.append((media.index if media is not None else 0, line))


def restartIce(self: RTCPeerConnection) -> None:
    if self._is_closed:
        return
    if self._current_local is None and self._pending_local is None:
        return  # no credentials in use yet: the first offer has fresh ones anyway
    self._creds_to_replace = (self._ufrag, self._pwd)
    self._update_negotiation_needed()
