"""Media on the peer connection: transceiver bookkeeping, JSEP media rules and the RTP runtime.

Implements W3C webrtc-pc 4.4.1.5/4.4.1.6 (the media steps of setting descriptions: associating
m= sections with transceivers, ``mid``, ``currentDirection``, "process remote tracks" and the
``track`` event), 4.7.3 (negotiation-needed checks for transceivers), 5.1 (addTrack,
removeTrack, addTransceiver, getTransceivers/getSenders/getReceivers) and RFC 8843 BUNDLE with
the data channel on the one transport.

Runtime: one :class:`rtcpeer.rtp.session.RtpSession` per peer connection, keyed from the DTLS
handshake (RFC 5764; the :class:`~rtcpeer.aio.connection.Connection` reports
``DtlsConnected``), fed by the connection's ``on_rtp`` hook (RFC 7983 demultiplexing) and
flushed once per event-loop iteration; one asyncio timer for every RTP/RTCP core. Each sending
transceiver runs an :class:`rtcpeer.media.pipeline.RtpMediaSender`, each receiving one an
:class:`rtcpeer.media.pipeline.RtpMediaReceiver` pushing into the receiver's track.

The peer connection calls in through :class:`MediaController` (``pc._media``): see
docs/internals.md "Media on the peer connection".
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, cast

from rtcpeer.errors import InvalidAccessError, InvalidStateError, NotSupportedError
from rtcpeer.media.track import MediaStreamTrack
from rtcpeer.pc.transceivers import (
    DEFAULT_EXTENSION_IDS,
    DIRECTIONS,
    MEDIA_PROTO,
    MediaStream,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCTrackEvent,
    answer_direction,
    choose_codecs,
    choose_extensions,
    media_lines,
    order_by_preferences,
    read_remote_media,
    reverse_direction,
)
from rtcpeer.rtp.codecs import HEADER_EXTENSIONS
from rtcpeer.rtp.packet import EXT_AUDIO_LEVEL, EXT_MID, EXT_TRANSPORT_CC
from rtcpeer.sdp.jsep import LocalSection, RemoteDescription, RemoteMedia

if TYPE_CHECKING:
    from rtcpeer.aio.connection import Connection
    from rtcpeer.dtls.transport import DtlsConnected
    from rtcpeer.media.pipeline import RtpMediaReceiver, RtpMediaSender
    from rtcpeer.peerconnection import RTCPeerConnection
    from rtcpeer.rtp.codecs import RtpCodec
    from rtcpeer.rtp.receiver import RtpReceiverCore
    from rtcpeer.rtp.session import RtpSession

__all__ = ["MediaController", "MediaMixin"]

logger = logging.getLogger(__name__)

_MEDIA_KINDS = ("audio", "video")


_available: bool | None = None


def media_available() -> bool:
    """True when the ``media`` extra (PyAV, pylibsrtp) is installed."""
    global _available
    if _available is None:
        try:
            import av  # noqa: F401
            import pylibsrtp  # noqa: F401
        except ImportError:
            _available = False
        else:
            _available = True
    return _available


def _rtcp_mux(m: RemoteMedia) -> bool:
    # RTP and RTCP share the one bundled transport (RFC 5761, RFC 8843 section 9.1); a section
    # that does not offer rtcp-mux cannot be carried and is rejected (rtcpMuxPolicy "require").
    return any(name == "rtcp-mux" for name, _ in m.attributes)


def _apply_encoding(pump: RtpMediaSender, settings: dict[str, Any]) -> None:
    """RTCRtpEncodingParameters -> the pump (degradationPreference/priority are kept only)."""
    pump.set_encoding(
        active=settings.get("active", True) is not False,
        max_bitrate=settings.get("maxBitrate"),
        scale_resolution_down_by=settings.get("scaleResolutionDownBy"),
        max_framerate=settings.get("maxFramerate"),
    )


class _Runtime:
    """The running RTP pieces of one transceiver."""

    __slots__ = ("codec", "receiver", "rx_codec", "sender", "started")

    def __init__(self) -> None:
        self.sender: RtpMediaSender | None = None
        self.codec: RtpCodec | None = None
        self.receiver: RtpMediaReceiver | None = None
        self.rx_codec: RtpCodec | None = None
        self.started = False


class MediaController:
    """Transceivers of one RTCPeerConnection and the RTP session of its transport."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.pc = pc
        self.transceivers: list[RTCRtpTransceiver] = []
        self.cname = str(uuid.uuid4())
        self.extension_ids: dict[str, int] = dict(DEFAULT_EXTENSION_IDS)
        self.streams: dict[str, MediaStream] = {}
        self.session: RtpSession | None = None
        self._runtime: dict[int, _Runtime] = {}
        self._rx_by_core: dict[int, RtpMediaReceiver] = {}
        self._conn: Connection | None = None
        self._keyed = False
        self._flush_pending = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock_offset = time.time() - time.monotonic()
        pc._negotiation_checks.append(self.negotiation_needed)

    # ------------------------------------------------------------ W3C operations

    def add_transceiver(
        self,
        kind: str,
        track: MediaStreamTrack | None,
        direction: str = "sendrecv",
        streams: tuple[MediaStream, ...] | list[MediaStream] = (),
    ) -> RTCRtpTransceiver:
        transceiver = RTCRtpTransceiver(self, kind, track, direction, streams)
        self.transceivers.append(transceiver)
        self.update_negotiation_needed()
        return transceiver

    def add_track(self, track: MediaStreamTrack, streams: tuple[MediaStream, ...]) -> RTCRtpSender:
        for t in self.transceivers:
            if t.sender.track is track and not t._stopping:
                raise InvalidAccessError("addTrack(): the track already has a sender")
        for t in self.transceivers:
            if (
                t.kind == track.kind
                and t.sender.track is None
                and not t._stopping
                and not t._ever_sent
            ):
                t.sender._track = track
                t.sender._msid_track = track.id
                t.sender._stream_ids = [s.id for s in streams]
                if t._direction == "recvonly":
                    t._direction = "sendrecv"
                elif t._direction == "inactive":
                    t._direction = "sendonly"
                self.sender_track_changed(t.sender)
                self.update_negotiation_needed()
                return t.sender
        transceiver = self.add_transceiver(track.kind or "video", track, "sendrecv", streams)
        transceiver._added_by_add_track = True
        return transceiver.sender

    def remove_track(self, sender: RTCRtpSender) -> None:
        transceiver = sender._transceiver
        if transceiver is None or transceiver not in self.transceivers:
            raise InvalidAccessError("removeTrack(): the sender does not belong to this connection")
        if sender.track is None or transceiver._stopping:
            return
        sender._track = None
        self.sender_track_changed(sender)
        if transceiver._direction == "sendrecv":
            transceiver._direction = "recvonly"
        elif transceiver._direction == "sendonly":
            transceiver._direction = "inactive"
        self.update_negotiation_needed()

    def sender_track_changed(self, sender: RTCRtpSender) -> None:
        transceiver = sender._transceiver
        if transceiver is None:
            return
        rt = self._runtime.get(id(transceiver))
        if rt is not None and rt.sender is not None:
            rt.sender.replace_track(sender.track)

    def sender_parameters_changed(self, sender: RTCRtpSender) -> None:
        """setParameters(): apply the encoding settings to the running pump, if any."""
        transceiver = sender._transceiver
        rt = self._runtime.get(id(transceiver)) if transceiver is not None else None
        if rt is not None and rt.sender is not None:
            _apply_encoding(rt.sender, sender._encoding_settings)

    def receiver_core(self, transceiver: RTCRtpTransceiver) -> RtpReceiverCore | None:
        rt = self._runtime.get(id(transceiver))
        return rt.receiver.core if rt is not None and rt.receiver is not None else None

    def clock_offset(self) -> float:
        """Add to a core's ``now`` (the loop's monotonic clock) for Unix time in seconds."""
        return self._clock_offset

    def stop_transceiver(self, transceiver: RTCRtpTransceiver) -> None:
        transceiver._current_direction = None
        self._stop_runtime(transceiver, end_track=True)

    def update_negotiation_needed(self) -> None:
        self.pc._update_negotiation_needed()

    def negotiation_needed(self) -> bool:
        """webrtc-pc 4.7.3 "check if negotiation is needed", for transceivers."""
        local = self.pc._current_local
        local_mids = {s.mid: s for s in local.sections} if local is not None else {}
        for t in self.transceivers:
            if t._stopped:
                continue
            if t._stopping:
                section = local_mids.get(t._mid or "")
                if section is not None and not section.rejected:
                    return True
                continue
            if t._mid is None or t._mid not in local_mids:
                return True
            if t._negotiated_direction != t._direction:
                return True
            if t._negotiated_streams != t.sender._stream_ids and t._sends_locally():
                return True
        return False

    # ------------------------------------------------------------ offers and answers

    def _section_for(self, t: RTCRtpTransceiver, mid: str) -> LocalSection:
        codecs = t.offer_codecs()
        extensions = t._extensions or self._offer_extensions(t.kind)
        lines = media_lines(t, codecs, extensions, t._direction, self.cname)
        fmt = [str(c.payload_type) for c in codecs]
        return LocalSection(mid, t.kind, MEDIA_PROTO, fmt, lines=lines)

    def _offer_extensions(self, kind: str) -> dict[str, int]:
        """The extmaps of a new m= section: one id per URI on the BUNDLE transport; audio
        adds the RFC 6464 audio level (a free id, kept for later offers)."""
        ids = self.extension_ids
        if kind == "audio" and EXT_AUDIO_LEVEL not in ids:
            used = set(ids.values())
            free = next((i for i in range(1, 15) if i not in used), None)
            if free is not None:
                ids[EXT_AUDIO_LEVEL] = free
        supported = HEADER_EXTENSIONS.get(kind, ())
        return {uri: i for uri, i in ids.items() if uri in supported}

    def offer_sections(self, sections: list[LocalSection]) -> None:
        """createOffer: refresh our m= sections and append one per new transceiver."""
        by_mid = {s.mid: i for i, s in enumerate(sections)}
        for t in self.transceivers:
            mid = t._mid or t._assigned_mid
            if mid is not None and mid in by_mid:
                index = by_mid[mid]
                if sections[index].rejected or t._stopped:
                    continue
                if t._stopping:
                    sections[index].rejected = True
                    continue
                sections[index] = self._section_for(t, mid)
            elif not t._stopping:
                mid = mid or self._new_mid(sections)
                t._assigned_mid = mid
                by_mid[mid] = len(sections)
                sections.append(self._section_for(t, mid))

    def offer_stale(self, sections: list[LocalSection]) -> bool:
        """An offer created before the transceivers last changed (implicit SLD re-creates)."""
        by_mid = {s.mid: s for s in sections}
        for t in self.transceivers:
            if t._stopped:
                continue
            section = by_mid.get(t._mid or t._assigned_mid or "")
            if section is None:
                if not t._stopping:
                    return True
                continue
            if t._stopping != section.rejected:
                return True
            if not t._stopping and t._direction not in section.lines:
                return True
        return False

    def _new_mid(self, sections: list[LocalSection]) -> str:
        used = {s.mid for s in sections} | {
            m for t in self.transceivers for m in (t._mid, t._assigned_mid) if m
        }
        n = 0
        while str(n) in used:
            n += 1
        return str(n)

    def answer_sections(self, remote: RemoteDescription, sections: list[LocalSection]) -> None:
        """createAnswer: accept the audio/video sections a transceiver took in setRemote."""
        for i, m in enumerate(remote.media):
            if m.kind not in _MEDIA_KINDS or m.rejected or i >= len(sections):
                continue
            t = self._by_mid(m.mid)
            if t is None or t._stopping:
                continue
            info = read_remote_media(m.kind, m.fmt, m.attributes)
            local = t.offer_codecs() if t._preferences is not None or not t._codecs else t._codecs
            from rtcpeer.pc.transceivers import local_codecs

            codecs = choose_codecs(local if local else local_codecs(t.kind), info.codecs)
            if not codecs:
                codecs = choose_codecs(local_codecs(t.kind), info.codecs)
            if not codecs:
                continue
            if t._preferences is not None:
                codecs = order_by_preferences(codecs, t._preferences)
            extensions = choose_extensions(m.kind, info.extensions)
            direction = answer_direction(t._direction, info.direction)
            mid = sections[i].mid
            lines = media_lines(t, codecs, extensions, direction, self.cname)
            fmt = [str(c.payload_type) for c in codecs]
            sections[i] = LocalSection(mid, m.kind, m.proto, fmt, lines=lines)
            t._pending = (codecs, extensions, direction)

    # ------------------------------------------------------------ applying descriptions

    def _by_mid(self, mid: str | None) -> RTCRtpTransceiver | None:
        if mid is None:
            return None
        for t in self.transceivers:
            if t._mid == mid and not t._stopped:
                return t
        return None

    def local_offer_applied(self) -> None:
        for t in self.transceivers:
            if t._assigned_mid is not None and t._mid is None:
                t._mid = t._assigned_mid

    def remote_offer_applied(self, remote: RemoteDescription) -> None:
        """setRemoteDescription(offer): associate m= sections and process remote tracks."""
        if not media_available():
            return  # the answer rejects the audio/video sections
        for m in remote.media:
            if m.kind not in _MEDIA_KINDS:
                continue
            t = self._by_mid(m.mid)
            if m.rejected or not _rtcp_mux(m):
                if t is not None:
                    self._reject(t)
                continue
            if t is None:
                t = next(
                    (
                        x
                        for x in self.transceivers
                        if x._mid is None
                        and x.kind == m.kind
                        and x._added_by_add_track
                        and not x._stopping
                    ),
                    None,
                )
                if t is None:
                    t = RTCRtpTransceiver(self, m.kind, None, "recvonly")
                    t._created_by_remote = True
                    self.transceivers.append(t)
                t._mid = m.mid if m.mid is not None else str(m.index)
                t._assigned_mid = None
            self._process_remote_tracks(t, m)

    def remote_answer_applied(self, remote: RemoteDescription) -> None:
        """setRemoteDescription(answer): the offer/answer exchange is complete."""
        for t in self.transceivers:
            m = remote.find(t._mid, None) if t._mid is not None else None
            if m is None or m.kind not in _MEDIA_KINDS:
                continue
            if m.rejected:
                self._reject(t)
                continue
            info = read_remote_media(m.kind, m.fmt, m.attributes)
            codecs = choose_codecs(t.offer_codecs(), info.codecs)
            if not codecs:
                self._reject(t)
                continue
            t._codecs = codecs
            t._extensions = choose_extensions(m.kind, info.extensions)
            t._current_direction = reverse_direction(info.direction)
            self._negotiated(t)
            self._process_remote_tracks(t, m)
        self._after_negotiation()

    def local_answer_applied(self) -> None:
        for t in self.transceivers:
            pending = t._pending
            if pending is None:
                if t._mid is not None and t._current_direction is None and not t._stopping:
                    # An offered section we did not accept (no common codec): rejected.
                    self._reject(t)
                continue
            t._pending = None
            t._codecs, t._extensions, t._current_direction = pending
            self._negotiated(t)
        self._after_negotiation()

    def _negotiated(self, t: RTCRtpTransceiver) -> None:
        t._negotiated_direction = t._direction
        t._negotiated_streams = list(t.sender._stream_ids)
        t._created_by_remote = False
        if t._current_direction in ("sendrecv", "sendonly"):
            t._ever_sent = True
        if t._extensions:
            # one mapping per BUNDLE transport: merge (an id the remote moved wins)
            moved = {uri for uri, i in self.extension_ids.items() if i in t._extensions.values()}
            for uri in moved:
                del self.extension_ids[uri]
            self.extension_ids.update(t._extensions)

    def _reject(self, t: RTCRtpTransceiver) -> None:
        t._stopping = True
        t._stopped = True
        t._direction = "stopped"
        t._current_direction = None
        self._stop_runtime(t, end_track=True)

    def rollback(self) -> None:
        """JSEP 5.7: undo what an offer not yet answered did to the transceivers."""
        keep: list[RTCRtpTransceiver] = []
        current = self.pc._current_local
        negotiated = {s.mid for s in current.sections} if current is not None else set()
        for t in self.transceivers:
            t._pending = None
            if t._mid is not None and t._mid not in negotiated:
                if t._created_by_remote:
                    t.receiver.track._end()
                    continue
                t._mid = None
            t._assigned_mid = None
            keep.append(t)
        self.transceivers = keep

    def _process_remote_tracks(self, t: RTCRtpTransceiver, m: RemoteMedia) -> None:
        info = read_remote_media(m.kind, m.fmt, m.attributes)
        t._remote_ssrcs = info.ssrcs
        track = t.receiver.track
        if info.direction in ("sendrecv", "sendonly"):
            streams = []
            for sid in info.stream_ids:
                stream = self.streams.get(sid)
                if stream is None:
                    stream = self.streams[sid] = MediaStream(id=sid)
                stream._add_remote_track(track)
                streams.append(stream)
            if not t._fired_recv:
                t._fired_recv = True
                event = RTCTrackEvent(t.receiver, track, streams, t)
                self.pc.dispatchEvent(event)
        elif t._fired_recv:
            t._fired_recv = False
            for stream in self.streams.values():
                stream._remove_remote_track(track)
            track._set_muted(True)

    # ------------------------------------------------------------ runtime

    def _after_negotiation(self) -> None:
        conn = self.pc._conn
        if conn is None or self._closed:
            return
        if not any(t._codecs and not t._stopping for t in self.transceivers):
            return
        self._ensure_session(conn)
        for t in self.transceivers:
            if not t._stopping:
                try:
                    self._configure(t)
                except Exception:  # e.g. a codec FFmpeg cannot open: that m= line stays idle
                    logger.warning("cannot start media for mid %s", t._mid, exc_info=True)
        self._start_senders()

    def _ensure_session(self, conn: Connection) -> RtpSession:
        from rtcpeer.rtp.session import RtpSession

        if self.session is None:
            self.session = RtpSession(feedback_ssrc=self._feedback_ssrc())
        session = self.session
        session.mid_extension_id = self.extension_ids.get(EXT_MID)
        session.transport_cc_extension_id = self.extension_ids.get(EXT_TRANSPORT_CC)
        if self._conn is not conn:
            self._conn = conn
            conn.on_rtp = self._on_rtp
            conn.on_dtls_connected = self._on_dtls_connected
            keys = conn.srtp_keys
            if keys is not None:
                self._key(*keys)
        return session

    def _feedback_ssrc(self) -> int:
        for t in self.transceivers:
            return t.sender._ssrc
        return 1

    def _on_dtls_connected(self, event: DtlsConnected) -> None:
        if event.srtp_profile:
            self._key(event.srtp_profile, event.keying_material)

    def _key(self, profile: str | None, material: bytes) -> None:
        session = self.session
        conn = self._conn
        if session is None or conn is None or not profile or self._keyed:
            return
        session.set_srtp(profile, material, is_client=conn.dtls_role == "client")
        self._keyed = True
        self._start_senders()

    def _configure(self, t: RTCRtpTransceiver) -> None:
        from rtcpeer.media.pipeline import RtpMediaSender
        from rtcpeer.rtp.codecs.encoders import encoder_for
        from rtcpeer.rtp.sender import RtpSenderCore

        session = self.session
        codec = t.send_codec
        if session is None or codec is None:
            return
        rt = self._runtime.setdefault(id(t), _Runtime())
        rtx_pt = t.rtx_payload_type(codec)
        direction = t._current_direction or "inactive"
        recv = direction in ("sendrecv", "recvonly")
        send = direction in ("sendrecv", "sendonly")
        # Receiving side.
        if rt.receiver is not None and (not recv or rt.rx_codec != codec):
            session.remove_receiver(rt.receiver.core)
            self._rx_by_core.pop(id(rt.receiver.core), None)
            rt.receiver = None
        if recv and rt.receiver is None:
            self._build_receiver(t, rt, codec)
        # Sending side.
        previous: RtpSenderCore | None = None
        if rt.sender is not None and (not send or rt.codec != codec):
            old = rt.sender
            session.remove_sender(old.core)
            rt.sender = None
            rt.started = False
            # A codec switch keeps the SSRC: no BYE, and the new core continues the sequence.
            previous = old.core if send else None
            self._spawn(old.stop(bye=not send))
        if send and rt.sender is None:
            score = RtpSenderCore(
                codec,
                t.sender._ssrc,
                rtx_payload_type=rtx_pt,
                rtx_ssrc=t.sender._rtx_ssrc if rtx_pt is not None else None,
                mid=t._mid,
                extensions=t._extensions,
                cname=self.cname,
                clock_offset=self._clock_offset,
                transport_sequence=session.next_transport_sequence
                if EXT_TRANSPORT_CC in t._extensions
                else None,
            )
            if previous is not None:
                score.sequence = previous.sequence
                score.history.sequence = previous.history.sequence
                score.timestamp_offset = previous.timestamp_offset
            session.add_sender(score)
            rt.sender = RtpMediaSender(t.sender.track, score, encoder_for(codec), self._send)
            if t.sender._encoding_settings:
                _apply_encoding(rt.sender, t.sender._encoding_settings)
            rt.codec = codec

    def _build_receiver(self, t: RTCRtpTransceiver, rt: _Runtime, codec: RtpCodec) -> None:
        from rtcpeer.media.pipeline import RtpMediaReceiver
        from rtcpeer.rtp.codecs.encoders import decoder_for
        from rtcpeer.rtp.receiver import RtpReceiverCore

        session = self.session
        assert session is not None
        rtx_pt = t.rtx_payload_type(codec)
        core = RtpReceiverCore(
            codec,
            ssrc=rt.receiver.core.ssrc if rt.receiver is not None else None,
            rtx_payload_type=rtx_pt,
            local_ssrc=t.sender._ssrc,
            nack="nack" in codec.rtcp_feedback,
            pli="nack pli" in codec.rtcp_feedback,
            audio_level_id=t._extensions.get(EXT_AUDIO_LEVEL),
        )
        if rt.receiver is not None:
            session.remove_receiver(rt.receiver.core)
            self._rx_by_core.pop(id(rt.receiver.core), None)
        # every negotiated payload type routes here (the remote may send any of them)
        pts = [c.payload_type for c in t._codecs] or [codec.payload_type]
        session.add_receiver(core, mid=t._mid, ssrcs=t._remote_ssrcs, payload_types=pts)
        rt.receiver = RtpMediaReceiver(core, decoder_for(codec), t.receiver.track)
        rt.rx_codec = codec
        self._rx_by_core[id(core)] = rt.receiver

    def _follow_payload_type(self, rx: RtpMediaReceiver) -> None:
        """The remote sends another negotiated codec (RFC 3264 section 5.1 allows switching
        among them without renegotiation): rebuild the receiver for it."""
        pt = rx.core.other_payload_type
        rx.core.other_payload_type = None
        for t in self.transceivers:
            rt = self._runtime.get(id(t))
            if rt is None or rt.receiver is not rx:
                continue
            codec = next((c for c in t._codecs if c.payload_type == pt and c.name != "rtx"), None)
            if codec is not None and self.session is not None:
                try:
                    self._build_receiver(t, rt, codec)
                except Exception:  # a codec PyAV cannot decode: keep the old receiver
                    logger.debug("cannot switch to payload type %s", pt, exc_info=True)
            return

    def _start_senders(self) -> None:
        if not self._keyed or self._closed:
            return
        for rt in self._runtime.values():
            if rt.sender is not None and not rt.started:
                rt.started = True
                rt.sender.start()

    def _stop_runtime(self, t: RTCRtpTransceiver, end_track: bool) -> None:
        rt = self._runtime.pop(id(t), None)
        session = self.session
        if rt is not None:
            if rt.sender is not None:
                if session is not None:
                    session.remove_sender(rt.sender.core)
                self._spawn(rt.sender.stop())
            if rt.receiver is not None:
                if session is not None:
                    session.remove_receiver(rt.receiver.core)
                self._rx_by_core.pop(id(rt.receiver.core), None)
        if end_track:
            t.receiver.track._end()

    def _spawn(self, coro: Any) -> None:
        try:
            task = asyncio.ensure_future(coro)
        except RuntimeError:  # no running loop (closing outside asyncio)
            coro.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ data path

    def _send(self, datagrams: list[bytes]) -> None:
        session = self.session
        if session is None or self._closed:
            return
        session.send(datagrams)
        self._kick()

    def _on_rtp(self, data: bytes) -> None:
        session = self.session
        if session is None or self._closed:
            return
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        try:
            core = session.receive(data, now)
        except Exception:  # the RTP layer drops bad input itself; never let it kill us
            logger.debug("RTP receive failed", exc_info=True)
            return
        if core is not None:
            rx = self._rx_by_core.get(id(core))
            if rx is not None and core.other_payload_type is not None:
                self._follow_payload_type(rx)
                rx = None  # the packet that announced the switch is dropped
            if rx is not None:
                try:
                    rx.feed(now)
                except Exception:  # a decoder must never take the transport down
                    logger.debug("media decode failed", exc_info=True)
        self._kick()

    def _kick(self) -> None:
        if self._flush_pending or self._closed:
            return
        self._flush_pending = True
        asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        session = self.session
        conn = self._conn
        if session is None or conn is None or self._closed:
            return
        out = session.datagrams_to_send()
        if out:
            send = conn.ice.send
            for datagram in out:
                send(datagram)
            conn.bytes_sent += sum(len(d) for d in out)
            conn.packets_sent += len(out)
        self._schedule()

    def _schedule(self) -> None:
        session = self.session
        if session is None or self._closed:
            return
        at = session.next_timeout()
        if at == self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(max(at, loop.time()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        session = self.session
        if session is None or self._closed:
            return
        now = asyncio.get_running_loop().time()
        session.timeout(now)
        for rx in self._rx_by_core.values():
            try:
                rx.feed(now)
            except Exception:
                logger.debug("media decode failed", exc_info=True)
        self._flush()

    # ------------------------------------------------------------ stats, close

    def stats(self, report: dict[str, dict[str, Any]], ts: float) -> None:
        from rtcpeer.pc.media_stats import rtp_stats

        for t in self.transceivers:
            rt = self._runtime.get(id(t))
            if rt is not None:
                rtp_stats(t, rt.sender, rt.receiver, report, ts)

    def close(self) -> None:
        if self._closed:
            return
        for t in self.transceivers:
            self._stop_runtime(t, end_track=True)
            t._stopping = t._stopped = True
            t._current_direction = None
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class MediaMixin:
    """The W3C media methods of RTCPeerConnection (webrtc-pc 5.1)."""

    _media_controller: MediaController | None = None

    @property
    def _media(self) -> MediaController:
        controller = self._media_controller
        if controller is None:
            controller = self._media_controller = MediaController(cast("RTCPeerConnection", self))
        return controller

    def _check_open(self, name: str) -> None:
        if cast("RTCPeerConnection", self)._is_closed:
            raise InvalidStateError(f"{name}() called on a closed RTCPeerConnection")
        if not media_available():
            raise NotSupportedError(
                f"{name}() needs the media extra (PyAV, pylibsrtp): pip install 'rtcpeer[media]'"
            )

    def addTrack(self, track: MediaStreamTrack, *streams: MediaStream) -> RTCRtpSender:
        """Send ``track`` (webrtc-pc 5.1): reuses a free transceiver or adds one."""
        self._check_open("addTrack")
        if not isinstance(track, MediaStreamTrack):
            raise TypeError("addTrack() takes a MediaStreamTrack")
        return self._media.add_track(track, streams)

    def removeTrack(self, sender: RTCRtpSender) -> None:
        self._check_open("removeTrack")
        self._media.remove_track(sender)

    def addTransceiver(
        self, trackOrKind: MediaStreamTrack | str, init: dict[str, Any] | None = None
    ) -> RTCRtpTransceiver:
        self._check_open("addTransceiver")
        init = dict(init or {})
        direction = init.get("direction", "sendrecv")
        if direction not in DIRECTIONS:
            raise TypeError(f"addTransceiver: direction must be one of {DIRECTIONS}")
        streams = list(init.get("streams", []))
        if isinstance(trackOrKind, str):
            if trackOrKind not in _MEDIA_KINDS:
                raise TypeError(
                    f"addTransceiver: kind must be 'audio' or 'video', not {trackOrKind!r}"
                )
            return self._media.add_transceiver(trackOrKind, None, direction, streams)
        if not isinstance(trackOrKind, MediaStreamTrack):
            raise TypeError("addTransceiver() takes a MediaStreamTrack or a kind")
        kind = trackOrKind.kind or "video"
        return self._media.add_transceiver(kind, trackOrKind, direction, streams)

    def getTransceivers(self) -> list[RTCRtpTransceiver]:
        if self._media_controller is None:
            return []
        return list(self._media_controller.transceivers)

    def getSenders(self) -> list[RTCRtpSender]:
        return [t.sender for t in self.getTransceivers() if not t._stopped]

    def getReceivers(self) -> list[RTCRtpReceiver]:
        return [t.receiver for t in self.getTransceivers() if not t._stopped]

    # Hooks the peer connection calls (no-ops until media is used).

    def _media_offer(self, sections: list[LocalSection]) -> None:
        if self._media_controller is not None:
            self._media_controller.offer_sections(sections)

    def _media_answer(self, remote: RemoteDescription, sections: list[LocalSection]) -> None:
        if any(m.kind in _MEDIA_KINDS for m in remote.media):
            self._media.answer_sections(remote, sections)

    def _media_set_local(self, kind: str) -> None:
        controller = self._media_controller
        if controller is None:
            return
        if kind == "offer":
            controller.local_offer_applied()
        elif kind == "answer":
            controller.local_answer_applied()

    def _media_set_remote(self, kind: str, remote: RemoteDescription) -> None:
        if self._media_controller is None and not any(m.kind in _MEDIA_KINDS for m in remote.media):
            return
        if kind == "offer":
            self._media.remote_offer_applied(remote)
        elif kind == "answer":
            self._media.remote_answer_applied(remote)

    def _media_offer_stale(self, sections: list[LocalSection]) -> bool:
        controller = self._media_controller
        return controller is not None and controller.offer_stale(sections)

    def _media_rollback(self) -> None:
        if self._media_controller is not None:
            self._media_controller.rollback()

    def _media_stats(self, report: dict[str, dict[str, Any]], ts: float) -> None:
        if self._media_controller is not None:
            self._media_controller.stats(report, ts)

    def _media_close(self) -> None:
        if self._media_controller is not None:
            self._media_controller.close()
