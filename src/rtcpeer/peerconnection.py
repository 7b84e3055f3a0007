"""RTCPeerConnection (W3C webrtc-pc sections 4 and 6) over rtcpeer's ICE, DTLS and SCTP.

Implements:

- the signaling state machine and set-description rules (webrtc-pc 4.4.1.5/4.4.1.6), including
  ``setLocalDescription()`` without argument (implicit offer/answer), ``{"type": "rollback"}``
  and the implicit rollback of ``setRemoteDescription(offer)`` in "have-local-offer";
- the operations chain (4.4.1.2): createOffer, createAnswer, setLocalDescription,
  setRemoteDescription and addIceCandidate run one at a time in call order;
- the negotiation-needed flag (4.7.3): queued, only fired in "stable" with an empty chain,
  once per need;
- ICE: trickle of local candidates (``icecandidate``, None at the end), remote candidates
  from the description and ``addIceCandidate``, ``restartIce()`` and the ``iceRestart``
  option, remote-initiated restarts, and the state attributes with their events;
- data channels (6.1, 6.2) over the pipeline in :mod:`rtcpeer.aio.connection`;
- ``getStats()`` (:mod:`rtcpeer.pc.stats`).

Offer/answer text comes from :mod:`rtcpeer.sdp.jsep` (max-bundle, one transport). Media
transceivers plug in through ``_sections`` (a :class:`~rtcpeer.sdp.jsep.LocalSection` per m=
line) and ``_negotiation_checks``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from rtcpeer import pc_ice as _pc_ice
from rtcpeer import pc_negotiation as _pc_negotiation
from rtcpeer import pc_transport as _pc_transport
from rtcpeer.aio.connection import (
    LOOPBACK_MTU,
    MAX_PACKET_ATTRIBUTE,
    Connection,
)
from rtcpeer.aio.connection import DtlsStateChanged as DtlsStateChanged
from rtcpeer.aio.ice import IceState as IceState
from rtcpeer.aio.ice import IceTransport
from rtcpeer.configuration import RTCConfiguration, RTCIceServer, to_configuration
from rtcpeer.datachannel import RTCDataChannel as RTCDataChannel
from rtcpeer.datachannel import RTCErrorEvent as RTCErrorEvent
from rtcpeer.dtls.certificate import RTCCertificate
from rtcpeer.errors import (
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    RTCError,
)
from rtcpeer.errors import OperationError as OperationError
from rtcpeer.events import Event, EventTarget
from rtcpeer.ice.agent import IceAgent as IceAgent
from rtcpeer.limits import limits_of
from rtcpeer.pc.channels import ChannelSet
from rtcpeer.pc.channels import new_channel as new_channel
from rtcpeer.pc.description import RTCPeerConnectionIceErrorEvent as RTCPeerConnectionIceErrorEvent
from rtcpeer.pc.description import RTCPeerConnectionIceEvent as RTCPeerConnectionIceEvent
from rtcpeer.pc.description import (
    RTCSessionDescription,
    coerce_description,
)
from rtcpeer.pc.media_session import MediaMixin
from rtcpeer.pc.model import LocalDesc, RemoteDesc, ice_string, strip_candidates
from rtcpeer.pc.model import candidate_init as candidate_init
from rtcpeer.pc.transports import PcTransports, RTCSctpTransport
from rtcpeer.pc_transport import LOCAL_MAX_MESSAGE_SIZE as LOCAL_MAX_MESSAGE_SIZE
from rtcpeer.pc_transport import _remote_max_packet as _remote_max_packet
from rtcpeer.sctp.channels import AssociationClosed as AssociationClosed
from rtcpeer.sctp.channels import AssociationConnected as AssociationConnected
from rtcpeer.sctp.channels import AssociationError as AssociationError
from rtcpeer.sctp.channels import ChannelEvent as ChannelEvent
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.sdp.candidate import RTCIceCandidate as RTCIceCandidate
from rtcpeer.sdp.errors import SDPParseError
from rtcpeer.sdp.jsep import (
    LocalParams,
    LocalSection,
    RemoteDescription,
    new_session_id,
    parse_description,
    write_description,
)
from rtcpeer.sdp.jsep import RemoteMedia as RemoteMedia

__all__ = ["RTCConfiguration", "RTCIceServer", "RTCPeerConnection", "RTCSessionDescription"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RTCPeerConnection(MediaMixin, EventTarget):
    """The W3C RTCPeerConnection. ``RTCPeerConnection({"iceServers": [...]})``."""

    def __init__(self, configuration: RTCConfiguration | Mapping[str, Any] | None = None) -> None:
        super().__init__()
        # rtcpeer-specific member (not W3C): {"limits": Limits(...) or {"maxChannels": 64}}.
        self._limits = limits_of(configuration)
        config = to_configuration(configuration)
        now_ms = _now_ms()
        for cert in config.certificates:
            if not isinstance(cert, RTCCertificate):
                raise TypeError("certificates must be RTCCertificate objects")
            if cert.expires <= now_ms:
                raise InvalidAccessError("an RTCCertificate in the configuration has expired")
        self._config = config
        self._certificate: RTCCertificate = (
            config.certificates[0] if config.certificates else RTCCertificate.default()
        )
        self._signaling_state = "stable"
        self._ice_gathering_state = "new"
        self._ice_connection_state = "new"
        self._connection_state = "new"
        self._is_closed = False
        self._session_id = new_session_id()
        self._session_version = 0
        self._last_offer: str | None = None
        self._last_answer: str | None = None
        self._last_offer_model: LocalDesc | None = None
        self._last_answer_model: LocalDesc | None = None
        self._current_local: LocalDesc | None = None
        self._pending_local: LocalDesc | None = None
        self._current_remote: RemoteDesc | None = None
        self._pending_remote: RemoteDesc | None = None
        # Sections of the last stable negotiation (subsequent offers start from them).
        self._sections: list[LocalSection] = []
        # ICE credentials: those of the transport and those a restart offer will use.
        self._ufrag = ice_string(8)
        self._pwd = ice_string(24)
        self._restart_creds: tuple[str, str] | None = None
        self._creds_to_replace: tuple[str, str] | None = None
        self._remote_creds: tuple[str, str] | None = None
        self._local_candidates: list[str] = []
        self._end_of_candidates = False
        self._ice: IceTransport | None = None
        self._conn: Connection | None = None
        self._transports: PcTransports | None = None  # W3C views, made when first asked for
        self._dtls_state = "new"
        self._remote_max_message_size = 65536
        self._chans = ChannelSet(self._announce_channel)
        self._data_requested = False
        # Operations chain and negotiation-needed flag.
        self._ops_lock = asyncio.Lock()
        self._ops_pending = 0
        self._nn_flag = False
        self._nn_on_empty_chain = False
        self._negotiation_checks: list[Callable[[], bool]] = []
        self._close_task: asyncio.Task[None] | None = None
        self._gather_tasks: set[asyncio.Task[Any]] = set()
        # iceCandidatePoolSize: events held until setLocalDescription (None: no pool).
        self._pool: list[tuple[str, Any]] | None = None
        self._pool_flush: list[tuple[str, Any]] | None = None
        self._pool_role_set = False
        # W3C event handler attributes.
        self.onnegotiationneeded: Callable[[Any], Any] | None = None
        self.onicecandidate: Callable[[Any], Any] | None = None
        self.onicecandidateerror: Callable[[Any], Any] | None = None
        self.onsignalingstatechange: Callable[[Any], Any] | None = None
        self.oniceconnectionstatechange: Callable[[Any], Any] | None = None
        self.onicegatheringstatechange: Callable[[Any], Any] | None = None
        self.onconnectionstatechange: Callable[[Any], Any] | None = None
        self.ondatachannel: Callable[[Any], Any] | None = None
        self.ontrack: Callable[[Any], Any] | None = None
        if config.iceCandidatePoolSize > 0:
            self._start_pool()

    # ------------------------------------------------------------------ attributes

    @property
    def signalingState(self) -> str:
        return self._signaling_state

    @property
    def iceGatheringState(self) -> str:
        return self._ice_gathering_state

    @property
    def iceConnectionState(self) -> str:
        return self._ice_connection_state

    @property
    def connectionState(self) -> str:
        return self._connection_state

    @property
    def canTrickleIceCandidates(self) -> bool | None:
        remote = self._pending_remote or self._current_remote
        if remote is None:
            return None
        media = remote.parsed.transport_media()
        options = list(remote.parsed.ice_options)
        if media is not None:
            options += media.ice_options
        return "trickle" in options

    @property
    def localDescription(self) -> RTCSessionDescription | None:
        return self.pendingLocalDescription or self.currentLocalDescription

    @property
    def currentLocalDescription(self) -> RTCSessionDescription | None:
        return self._render_local(self._current_local)

    @property
    def pendingLocalDescription(self) -> RTCSessionDescription | None:
        return self._render_local(self._pending_local)

    @property
    def remoteDescription(self) -> RTCSessionDescription | None:
        return self.pendingRemoteDescription or self.currentRemoteDescription

    @property
    def currentRemoteDescription(self) -> RTCSessionDescription | None:
        return self._render_remote(self._current_remote)

    @property
    def pendingRemoteDescription(self) -> RTCSessionDescription | None:
        return self._render_remote(self._pending_remote)

    @property
    def sctp(self) -> RTCSctpTransport | None:
        """webrtc-pc 6.1.1 RTCSctpTransport (None until the transport exists)."""
        transports = self._w3c_transports()
        return transports.sctp if transports is not None else None

    def _w3c_transports(self) -> PcTransports | None:
        """The RTCIceTransport/RTCDtlsTransport/RTCSctpTransport objects (rtcpeer.pc.transports)."""
        if self._transports is None and self._conn is not None:
            self._transports = PcTransports(self)
        return self._transports

    def _sync_transports(self) -> None:
        if self._transports is not None:
            self._transports.sync()

    def getConfiguration(self) -> dict[str, Any]:
        out = self._config.to_dict()
        out["certificates"] = [self._certificate]
        return out

    def setConfiguration(self, configuration: RTCConfiguration | Mapping[str, Any]) -> None:
        """Change the ICE servers/policy; certificates and bundle policy cannot change."""
        if self._is_closed:
            raise InvalidStateError("setConfiguration() called on a closed RTCPeerConnection")
        new = to_configuration(configuration)
        if new.certificates and list(new.certificates) != [self._certificate]:
            raise InvalidModificationError("setConfiguration() cannot change certificates")
        if new.bundlePolicy != self._config.bundlePolicy:
            raise InvalidModificationError(
                f"setConfiguration() cannot change bundlePolicy from "
                f"{self._config.bundlePolicy!r} to {new.bundlePolicy!r}"
            )
        if new.rtcpMuxPolicy != self._config.rtcpMuxPolicy:
            raise InvalidModificationError("setConfiguration() cannot change rtcpMuxPolicy")
        if (
            new.iceCandidatePoolSize != self._config.iceCandidatePoolSize
            and self._current_local is not None
            or self._pending_local is not None
            and new.iceCandidatePoolSize != self._config.iceCandidatePoolSize
        ):
            raise InvalidModificationError(
                "setConfiguration() cannot change iceCandidatePoolSize after setLocalDescription"
            )
        self._config = replace(new, certificates=(self._certificate,))
        ice = self._ice
        if ice is not None:
            # Used by the next gathering (ICE restart), as the W3C spec says.
            ice._servers = _parse_servers(self._config)
            ice.ice_transport_policy = self._config.iceTransportPolicy
            ice.tcp = self._config.iceTcp
            if self._config.iceConsentTimeout is not None:
                ice.consent_timeout = self._config.iceConsentTimeout
        if self._config.iceCandidatePoolSize > 0:
            self._start_pool()
        else:
            self._discard_pool()

    @staticmethod
    async def generateCertificate(keygenAlgorithm: Any = None) -> RTCCertificate:
        return await RTCCertificate.generateCertificate(keygenAlgorithm)

    # ------------------------------------------------------------------ operations chain

    async def _chain(self, name: str, op: Callable[[], Awaitable[T]]) -> T:
        if self._is_closed:
            raise InvalidStateError(f"{name}() called on a closed RTCPeerConnection")
        self._ops_pending += 1
        try:
            async with self._ops_lock:
                if self._is_closed:
                    raise InvalidStateError(f"{name}(): the RTCPeerConnection was closed")
                return await op()
        finally:
            self._ops_pending -= 1
            if self._ops_pending == 0 and self._nn_on_empty_chain and not self._is_closed:
                self._nn_on_empty_chain = False
                self._update_negotiation_needed()

    # ------------------------------------------------------------------ offer / answer

    async def createOffer(self, options: Mapping[str, Any] | None = None) -> RTCSessionDescription:
        ice_restart = bool((options or {}).get("iceRestart", False))
        return await self._chain("createOffer", lambda: self._create_offer(ice_restart))

    async def _create_offer(self, ice_restart: bool) -> RTCSessionDescription:
        if ice_restart or self._creds_to_replace is not None:
            if self._restart_creds is None:
                self._restart_creds = (ice_string(8), ice_string(24))
            ufrag, pwd = self._restart_creds
        else:
            ufrag, pwd = self._ufrag, self._pwd
        sections = [replace(s, fmt=list(s.fmt), lines=list(s.lines)) for s in self._sections]
        self._media_offer(sections)
        if self._wants_data() and not any(s.is_data and not s.rejected for s in sections):
            reusable = next((s for s in sections if s.rejected and s.is_data), None)
            if reusable is not None:
                reusable.rejected = False
            else:
                sections.append(LocalSection(self._new_mid(sections)))
        params = self._local_params(ufrag, pwd, "actpass")
        self._session_version += 1
        model = LocalDesc("offer", sections, params, self._session_version)
        sdp = self._write(model)
        self._last_offer = sdp
        self._last_offer_model = model
        return RTCSessionDescription(type="offer", sdp=sdp)

    async def createAnswer(self, options: Mapping[str, Any] | None = None) -> RTCSessionDescription:
        return await self._chain("createAnswer", self._create_answer)

    async def _create_answer(self) -> RTCSessionDescription:
        if self._signaling_state not in ("have-remote-offer", "have-local-pranswer"):
            raise InvalidStateError(
                f"createAnswer() needs signalingState 'have-remote-offer', "
                f"not {self._signaling_state!r}"
            )
        remote = self._pending_remote
        assert remote is not None
        sections: list[LocalSection] = []
        data_taken = False
        for m in remote.parsed.media:
            mid = m.mid if m.mid is not None else str(m.index)
            accept = m.is_data and not m.rejected and not data_taken
            if accept:
                data_taken = True
                sections.append(LocalSection(mid, m.kind, m.proto, list(m.fmt)))
            else:
                sections.append(LocalSection(mid, m.kind, m.proto, list(m.fmt), rejected=True))
        self._media_answer(remote.parsed, sections)
        setup = self._answer_setup(remote.parsed)
        # An answer never starts a restart; a remote restart already gave us new credentials.
        params = self._local_params(self._ufrag, self._pwd, setup)
        self._session_version += 1
        model = LocalDesc("answer", sections, params, self._session_version)
        sdp = self._write(model)
        self._last_answer = sdp
        self._last_answer_model = model
        return RTCSessionDescription(type="answer", sdp=sdp)

    def _answer_setup(self, remote: RemoteDescription) -> str:
        media = remote.transport_media()
        offered = media.setup if media is not None else None
        if offered == "active":
            return "passive"
        if offered == "passive":
            return "active"
        conn = self._conn
        if conn is not None and conn.dtls_role == "server":
            return "passive"  # keep the existing DTLS roles (RFC 8842 5.3)
        return "active"

    def _local_params(self, ufrag: str, pwd: str, setup: str) -> LocalParams:
        fps = [(fp["algorithm"], fp["value"].upper()) for fp in self._certificate.getFingerprints()]
        return LocalParams(ufrag, pwd, fps, setup, max_message_size=LOCAL_MAX_MESSAGE_SIZE)

    def _write(self, model: LocalDesc, with_candidates: bool = True) -> str:
        same_creds = model.params.ice_ufrag == self._ufrag
        cands = self._local_candidates if with_candidates and same_creds else []
        eoc = self._end_of_candidates and with_candidates and same_creds
        sdp = write_description(
            self._session_id, model.session_version, model.sections, model.params, cands, eoc
        )
        # rtcpeer extension: the SCTP packet size we accept (one full DTLS record). A peer
        # that announces it too may probe for large packets on a same-host path (see
        # rtcpeer.aio.connection); browsers ignore the unknown attribute.
        mms = f"a=max-message-size:{model.params.max_message_size}\r\n"
        return sdp.replace(mms, f"{mms}a={MAX_PACKET_ATTRIBUTE}:{LOOPBACK_MTU}\r\n", 1)

    def _render_local(self, desc: LocalDesc | None) -> RTCSessionDescription | None:
        if desc is None:
            return None
        return RTCSessionDescription(type=desc.type, sdp=self._write(desc))

    @staticmethod
    def _render_remote(desc: RemoteDesc | None) -> RTCSessionDescription | None:
        if desc is None:
            return None
        return RTCSessionDescription(type=desc.type, sdp=desc.render())

    @staticmethod
    def _new_mid(sections: list[LocalSection]) -> str:
        used = {s.mid for s in sections}
        n = 0
        while str(n) in used:
            n += 1
        return str(n)

    def _wants_data(self) -> bool:
        return self._data_requested

    # ------------------------------------------------------------------ set descriptions

    async def setLocalDescription(self, description: Any = None) -> None:
        kind, sdp = coerce_description(description)
        return await self._chain("setLocalDescription", lambda: self._set_local(kind, sdp))

    async def _set_local(self, kind: str | None, sdp: str) -> None:
        state = self._signaling_state
        if kind is None:
            kind = (
                "offer"
                if state in ("stable", "have-local-offer", "have-remote-pranswer")
                else "answer"
            )
        if kind == "rollback":
            if state not in ("have-local-offer", "have-remote-offer"):
                raise InvalidStateError(
                    f"setLocalDescription(rollback) is invalid in signalingState {state!r}"
                )
            self._rollback()
            return
        if kind == "offer":
            if state not in ("stable", "have-local-offer"):
                raise InvalidStateError(
                    f"setLocalDescription(offer) is invalid in signalingState {state!r}"
                )
            if not sdp:
                if self._last_offer is None or self._offer_is_stale():
                    await self._create_offer(False)
                model = self._last_offer_model
            else:
                if self._last_offer is None or strip_candidates(sdp) != strip_candidates(
                    self._last_offer
                ):
                    raise InvalidModificationError(
                        "setLocalDescription(offer): the SDP is not the one createOffer() returned"
                    )
                model = self._last_offer_model
            assert model is not None
            self._apply_local_offer(model)
            self._media_set_local("offer")
            self._set_signaling("have-local-offer")
            # webrtc-pc 4.4.1.6: signalingstatechange first, then the gathering state change.
            if self._ice is not None and not self._is_closed:
                self._start_gathering(self._ice)
            return
        # answer / pranswer
        if state not in ("have-remote-offer", "have-local-pranswer"):
            raise InvalidStateError(
                f"setLocalDescription({kind}) is invalid in signalingState {state!r}"
            )
        if not sdp:
            if self._last_answer is None or self._last_answer_model is None:
                await self._create_answer()
            model = self._last_answer_model
        else:
            if self._last_answer is None or strip_candidates(sdp) != strip_candidates(
                self._last_answer
            ):
                raise InvalidModificationError(
                    f"setLocalDescription({kind}): the SDP is not the one createAnswer() returned"
                )
            model = self._last_answer_model
        assert model is not None
        model = LocalDesc(kind, model.sections, model.params, model.session_version)
        self._apply_local_answer(model)
        self._media_set_local(kind)
        if kind == "pranswer":
            self._set_signaling("have-local-pranswer")
        else:
            self._set_signaling("stable")
            self._update_negotiation_needed()
        # webrtc-pc 4.4.1.6: signalingstatechange first, then the gathering state change.
        if self._ice is not None and not self._is_closed:
            self._start_gathering(self._ice)

    def _offer_is_stale(self) -> bool:
        model = self._last_offer_model
        if model is None:
            return True
        restart_wanted = self._creds_to_replace is not None
        if restart_wanted and model.params.ice_ufrag == self._ufrag:
            return True
        if self._media_offer_stale(model.sections):
            return True
        return self._wants_data() and not any(s.is_data and not s.rejected for s in model.sections)

    def _apply_local_offer(self, model: LocalDesc) -> None:
        self._ensure_ice(controlling=True)
        if model.params.ice_ufrag != self._ufrag:
            self._local_restart(model.params.ice_ufrag, model.params.ice_pwd)
        self._pending_local = model
        self._last_answer = None
        self._last_answer_model = None

    def _apply_local_answer(self, model: LocalDesc) -> None:
        self._ensure_ice(controlling=False)
        if model.params.ice_ufrag != self._ufrag:
            self._local_restart(model.params.ice_ufrag, model.params.ice_pwd)
        remote = self._pending_remote
        assert remote is not None
        if model.type == "answer":
            self._current_local = model
            self._pending_local = None
            self._current_remote = remote
            self._pending_remote = None
            self._sections = [replace(s) for s in model.sections]
            self._restart_creds = None
            self._clear_replaced_creds()
            self._last_offer = None
            self._last_offer_model = None
            role = "server" if model.params.setup == "passive" else "client"
            self._start_transport(role, remote.parsed)
        else:
            self._pending_local = model

    async def setRemoteDescription(self, description: Any) -> None:
        kind, sdp = coerce_description(description)
        if kind is None:
            raise TypeError("setRemoteDescription() needs a description with a type")
        return await self._chain("setRemoteDescription", lambda: self._set_remote(kind, sdp))

    async def _set_remote(self, kind: str, sdp: str) -> None:
        state = self._signaling_state
        if kind == "rollback":
            if state not in ("have-local-offer", "have-remote-offer"):
                raise InvalidStateError(
                    f"setRemoteDescription(rollback) is invalid in signalingState {state!r}"
                )
            self._rollback()
            return
        if kind == "offer":
            if state not in ("stable", "have-remote-offer", "have-local-offer"):
                raise InvalidStateError(
                    f"setRemoteDescription(offer) is invalid in signalingState {state!r}"
                )
        elif state not in ("have-local-offer", "have-remote-pranswer"):
            raise InvalidStateError(
                f"setRemoteDescription({kind}) is invalid in signalingState {state!r}"
            )
        try:
            parsed = parse_description(sdp)
        except SDPParseError as exc:
            raise RTCError(
                f"setRemoteDescription: {exc}",
                errorDetail="sdp-syntax-error",
                sdpLineNumber=exc.line_number or None,
            ) from exc
        media = parsed.transport_media()
        if media is not None:
            if not media.ice_ufrag or not media.ice_pwd:
                raise InvalidAccessError(
                    "setRemoteDescription: the description has no a=ice-ufrag/a=ice-pwd"
                )
            if not media.fingerprints:
                raise InvalidAccessError(
                    "setRemoteDescription: the description has no a=fingerprint"
                )
            if self._conn is not None and not self._conn.remote_fingerprints_match(
                media.fingerprints
            ):
                # Fail closed: never keep trusting the old certificate silently, and a second
                # DTLS session on the same transport is not supported.
                raise InvalidAccessError(
                    "setRemoteDescription: the remote DTLS fingerprint changed during "
                    "renegotiation (a new DTLS session is not supported: use a new "
                    "RTCPeerConnection)"
                )
        if kind != "offer":
            local = self._pending_local
            if local is not None and len(parsed.media) != len(local.sections):
                raise InvalidAccessError(
                    f"setRemoteDescription({kind}): {len(parsed.media)} m= sections answer an "
                    f"offer with {len(local.sections)}"
                )
        remote = RemoteDesc(kind, sdp, parsed)
        if kind == "offer":
            if state == "have-local-offer":
                self._rollback(fire=False)  # implicit rollback (perfect negotiation, polite side)
            self._ensure_ice(controlling=False)
            self._pending_remote = remote
            self._last_offer = None
            self._last_offer_model = None
            # An answer created for an earlier offer must not answer this one.
            self._last_answer = None
            self._last_answer_model = None
            self._apply_remote_ice(parsed, offer=True)
            self._media_set_remote("offer", parsed)
            self._set_signaling("have-remote-offer")
            return
        self._apply_remote_ice(parsed, offer=False)
        if kind == "pranswer":
            self._pending_remote = remote
            self._set_signaling("have-remote-pranswer")
            return
        local = self._pending_local
        assert local is not None
        self._current_remote = remote
        self._pending_remote = None
        self._current_local = local
        self._pending_local = None
        sections = [replace(s) for s in local.sections]
        for section, m in zip(sections, parsed.media, strict=False):
            if m.rejected:
                section.rejected = True
        self._sections = sections
        self._restart_creds = None
        self._clear_replaced_creds()
        self._last_answer = None
        self._last_answer_model = None
        if media is not None:
            role = "client" if media.setup == "passive" else "server"
            self._start_transport(role, parsed)
        self._media_set_remote(kind, parsed)
        self._set_signaling("stable")
        self._update_negotiation_needed()

    def _clear_replaced_creds(self) -> None:
        if self._creds_to_replace is not None and self._creds_to_replace[0] != self._ufrag:
            self._creds_to_replace = None

    def _rollback(self, fire: bool = True) -> None:
        self._media_rollback()
        pending = self._pending_local
        current = self._current_local
        self._pending_local = None
        self._pending_remote = None
        if (
            pending is not None
            and pending.type == "offer"
            and current is not None
            and current.params.ice_ufrag != self._ufrag
        ):
            self._undo_local_restart(current.params.ice_ufrag, current.params.ice_pwd)
        self._last_answer = None
        self._last_answer_model = None
        if fire:
            self._set_signaling("stable")
            self._update_negotiation_needed()
        else:
            self._signaling_state = "stable"
            self.dispatchEvent(Event("signalingstatechange"))

    def _undo_local_restart(self, ufrag: str, pwd: str) -> None:
        """Rolling back a restart offer: back to the negotiated credentials (JSEP 5.7)."""
        ice = self._ice
        remote = self._current_remote
        if ice is None or remote is None:
            return
        self._local_restart(ufrag, pwd)
        self._apply_remote_ice(remote.parsed, offer=False)
        for _, line in remote.added:
            if line.startswith("a=candidate:"):
                try:
                    ice.add_remote_candidate(Candidate.from_sdp(line))
                except SDPParseError:
                    continue
            elif line == "a=end-of-candidates":
                ice.add_remote_candidate(None)
        self._start_gathering(ice)

    # ICE: rtcpeer.pc_ice
    _apply_remote_ice = _pc_ice._apply_remote_ice
    _ensure_ice = _pc_ice._ensure_ice
    _local_restart = _pc_ice._local_restart
    _start_gathering = _pc_ice._start_gathering
    _start_pool = _pc_ice._start_pool
    _discard_pool = _pc_ice._discard_pool
    _release_pool = _pc_ice._release_pool
    _on_local_candidate = _pc_ice._on_local_candidate
    _transport_mid = _pc_ice._transport_mid
    _on_gathering_state = _pc_ice._on_gathering_state
    _on_candidate_error = _pc_ice._on_candidate_error
    _on_selected_pair = _pc_ice._on_selected_pair
    _on_ice_state = _pc_ice._on_ice_state
    _update_connection_state = _pc_ice._update_connection_state
    addIceCandidate = _pc_ice.addIceCandidate
    _add_ice_candidate = _pc_ice._add_ice_candidate
    restartIce = _pc_ice.restartIce

    # ------------------------------------------------------------------ transport, channels

    # transport, channels: rtcpeer.pc_transport
    _start_transport = _pc_transport._start_transport
    createDataChannel = _pc_transport.createDataChannel
    _announce_channel = _pc_transport._announce_channel
    _on_pipeline_event = _pc_transport._on_pipeline_event
    _report_sctp_error = _pc_transport._report_sctp_error

    # ------------------------------------------------------------------ negotiation needed

    # rtcpeer.pc_negotiation
    _check_negotiation_needed = _pc_negotiation._check_negotiation_needed
    _update_negotiation_needed = _pc_negotiation._update_negotiation_needed
    _fire_negotiation_needed = _pc_negotiation._fire_negotiation_needed
    _set_signaling = _pc_negotiation._set_signaling

    # ------------------------------------------------------------------ stats, close

    async def getStats(self, selector: Any = None) -> dict[str, dict[str, Any]]:
        from rtcpeer.pc.stats import collect_stats

        report = collect_stats(self)
        self._media_stats(report, report["P"]["timestamp"])
        return report

    def close(self) -> Awaitable[None]:
        """Close at once (states become "closed"); returns an awaitable for the teardown.

        ``pc.close()`` works as in JavaScript; ``await pc.close()`` also waits until sockets
        are closed. Always awaitable (the teardown task, or an already finished awaitable
        when there is no event loop or nothing left to wait for), also on a second call.
        """
        if self._is_closed:
            return self._close_task if self._close_task is not None else _CLOSED
        self._is_closed = True
        self._signaling_state = "closed"
        self._ice_connection_state = "closed"
        self._connection_state = "closed"
        self._chans.close_all()
        self._media_close()
        if self._transports is not None:
            self._transports.sync(fire=False)  # "closed" everywhere, without events
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return _CLOSED
        self._close_task = loop.create_task(self._teardown())
        return self._close_task

    async def _teardown(self) -> None:
        if self._conn is not None:
            await self._conn.close()
        elif self._ice is not None:
            await self._ice.close()

    def __repr__(self) -> str:
        return (
            f"<RTCPeerConnection signaling={self._signaling_state} "
            f"ice={self._ice_connection_state} connection={self._connection_state}>"
        )


class _Finished:
    """An awaitable that is already done (close() without an event loop)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return None
        yield  # makes this a generator; never reached


_CLOSED = _Finished()


def _now_ms() -> float:
    import time

    return time.time() * 1000.0


def _parse_servers(config: RTCConfiguration) -> Any:
    from rtcpeer.ice.gather import parse_ice_servers

    return parse_ice_servers(config.ice_server_dicts())
