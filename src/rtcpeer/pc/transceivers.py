"""RTCRtpTransceiver, RTCRtpSender, RTCRtpReceiver, MediaStream and their SDP (W3C webrtc-pc 5).

Implements:

- the W3C objects (webrtc-pc 5.2 RTCRtpSender, 5.3 RTCRtpReceiver, 5.4 RTCRtpTransceiver):
  ``direction`` / ``currentDirection``, ``mid``, ``stop()``, ``replaceTrack``,
  ``setStreams``, ``setCodecPreferences``, ``getParameters``; the ``track`` event
  (:class:`RTCTrackEvent`) and a minimal ``MediaStream``;
- the media part of offers and answers (RFC 8829 sections 5.2.1 and 5.3.1; the transport lines
  around them come from :mod:`rtcpeer.sdp.jsep`): ``a=rtpmap``/``a=fmtp``/``a=rtcp-fb`` of the
  codecs, ``a=extmap`` (RFC 8285: mid, abs-send-time, transport-wide-cc), the direction,
  ``a=msid`` (RFC 8830), ``a=ssrc``/``a=ssrc-group:FID`` (RFC 5576, RFC 4588 RTX);
- reading a remote m= section (:func:`read_remote_media`): codecs (negotiated with
  :func:`rtcpeer.rtp.codecs.negotiate_codecs`, the remote's payload types), extmap ids,
  direction, msid stream ids and SSRCs.

Nothing here does I/O; :mod:`rtcpeer.pc.media_session` runs the RTP cores.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rtcpeer.errors import InvalidModificationError, InvalidStateError
from rtcpeer.events import Event
from rtcpeer.media.track import MediaStream, MediaStreamTrack, RemoteStreamTrack
from rtcpeer.rtp.codecs import (
    AUDIO_CODECS,
    HEADER_EXTENSIONS,
    VIDEO_CODECS,
    RtpCodec,
    negotiate_codecs,
    rtx_codec,
)
from rtcpeer.rtp.packet import EXT_ABS_SEND_TIME, EXT_MID, EXT_TRANSPORT_CC

if TYPE_CHECKING:
    from rtcpeer.pc.media_session import MediaController
    from rtcpeer.pc.transports import RTCDtlsTransport
    from rtcpeer.rtp.receiver import RtpReceiverCore

__all__ = [
    "DEFAULT_EXTENSION_IDS",
    "DIRECTIONS",
    "MEDIA_PROTO",
    "MediaStream",
    "RTCRtpReceiver",
    "RTCRtpSender",
    "RTCRtpTransceiver",
    "RTCTrackEvent",
    "RemoteMediaInfo",
    "answer_direction",
    "local_codecs",
    "read_remote_media",
    "reverse_direction",
]

MEDIA_PROTO = "UDP/TLS/RTP/SAVPF"
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
DEFAULT_EXTENSION_IDS: dict[str, int] = {EXT_MID: 1, EXT_ABS_SEND_TIME: 2, EXT_TRANSPORT_CC: 3}
# RTCRtpEncodingParameters members setParameters() may change (webrtc-pc 5.2.1).
SETTABLE_ENCODING_FIELDS = (
    "active",
    "maxBitrate",
    "maxFramerate",
    "scaleResolutionDownBy",
    "priority",
    "networkPriority",
)


def _sends(direction: str | None) -> bool:
    return direction in ("sendrecv", "sendonly")


def _recvs(direction: str | None) -> bool:
    return direction in ("sendrecv", "recvonly")


def _direction(send: bool, recv: bool) -> str:
    if send and recv:
        return "sendrecv"
    if send:
        return "sendonly"
    if recv:
        return "recvonly"
    return "inactive"


def reverse_direction(direction: str) -> str:
    """The direction as seen from the other side (sendonly <-> recvonly)."""
    return _direction(_recvs(direction), _sends(direction))


def answer_direction(local: str, offered: str) -> str:
    """RFC 8829 5.3.1: the answer sends only what the offer receives and vice versa."""
    return _direction(_sends(local) and _recvs(offered), _recvs(local) and _sends(offered))


def _h264_available() -> bool:
    try:
        from rtcpeer.rtp.codecs.encoders import h264_encoder_available
    except ImportError:  # pragma: no cover - the media extra is missing
        return False
    return h264_encoder_available()


def local_codecs(kind: str) -> list[RtpCodec]:
    """What we offer for ``kind``, in preference order, with RTX for video (PT + 1)."""
    if kind == "audio":
        return list(AUDIO_CODECS)
    out: list[RtpCodec] = []
    for codec in VIDEO_CODECS:
        if codec.name == "H264" and not _h264_available():
            continue
        out.append(codec)
        out.append(rtx_codec(codec, codec.payload_type + 1))
    return out


# ---------------------------------------------------------------------- W3C objects


class RTCTrackEvent(Event):
    """``track``: ``receiver``, ``track``, ``streams`` and ``transceiver``."""

    def __init__(
        self,
        receiver: RTCRtpReceiver,
        track: MediaStreamTrack,
        streams: list[MediaStream],
        transceiver: RTCRtpTransceiver,
    ) -> None:
        super().__init__(
            "track", receiver=receiver, track=track, streams=streams, transceiver=transceiver
        )


class RTCRtpSender:
    """webrtc-pc 5.2. ``track`` may be None (nothing is sent, the m= section stays)."""

    def __init__(
        self, controller: MediaController, kind: str, track: MediaStreamTrack | None
    ) -> None:
        self._controller = controller
        self._kind = kind
        self._track = track
        self._stream_ids: list[str] = []
        self._transceiver: RTCRtpTransceiver | None = None
        self._ssrc = secrets.randbits(32) or 1
        self._rtx_ssrc = secrets.randbits(32) or 2
        self._msid_track = track.id if track is not None else str(uuid.uuid4())
        self._last_parameters: dict[str, Any] | None = None
        self._encoding_settings: dict[str, Any] = {}
        self._degradation_preference: str | None = None  # kept, not acted on

    @property
    def track(self) -> MediaStreamTrack | None:
        return self._track

    @property
    def transport(self) -> RTCDtlsTransport | None:
        """webrtc-pc 5.2/5.3: the RTCDtlsTransport (bundled: the one of the connection)."""
        transports = self._controller.pc._w3c_transports()
        return transports.dtls if transports is not None else None

    @property
    def kind(self) -> str:
        return self._kind

    async def replaceTrack(self, withTrack: MediaStreamTrack | None) -> None:
        """Send ``withTrack`` instead, without renegotiation (W3C 5.2)."""
        transceiver = self._transceiver
        if transceiver is not None and transceiver._stopping:
            raise InvalidStateError("replaceTrack() on a stopped transceiver")
        if withTrack is not None and withTrack.kind != self._kind:
            raise TypeError(f"replaceTrack(): a {withTrack.kind} track on a {self._kind} sender")
        self._track = withTrack
        self._controller.sender_track_changed(self)

    def setStreams(self, *streams: MediaStream) -> None:
        self._stream_ids = [s.id for s in streams]
        self._controller.update_negotiation_needed()

    def getParameters(self) -> dict[str, Any]:
        """webrtc-pc 5.2: the send parameters with a fresh ``transactionId``.

        As in the spec, the returned dictionary is the one ``setParameters()`` accepts until
        the current task ends (the "last returned parameters" are cleared with call_soon).
        """
        transceiver = self._transceiver
        codecs = transceiver._codecs if transceiver is not None else []
        encoding: dict[str, Any] = {"ssrc": self._ssrc, "active": True}
        encoding.update(self._encoding_settings)
        params: dict[str, Any] = {
            "transactionId": uuid.uuid4().hex,
            "encodings": [encoding],
            "codecs": [_codec_dict(c) for c in codecs],
            "headerExtensions": [
                {"uri": uri, "id": i}
                for uri, i in (transceiver._extensions.items() if transceiver else [])
            ],
            "rtcp": {"cname": self._controller.cname, "reducedSize": True},
        }
        if self._degradation_preference is not None:
            params["degradationPreference"] = self._degradation_preference
        self._last_parameters = copy.deepcopy(params)
        try:
            asyncio.get_running_loop().call_soon(self._forget_parameters, params["transactionId"])
        except RuntimeError:
            pass  # no event loop: the parameters stay valid until setParameters()
        return params

    def _forget_parameters(self, transaction_id: str) -> None:
        last = self._last_parameters
        if last is not None and last["transactionId"] == transaction_id:
            self._last_parameters = None

    async def setParameters(self, parameters: Mapping[str, Any]) -> None:
        """webrtc-pc 5.2 setParameters(): checks against the last getParameters() result.

        Only the per-encoding settings of :data:`SETTABLE_ENCODING_FIELDS` may change; they
        are kept and returned by later getParameters() calls.
        """
        transceiver = self._transceiver
        if transceiver is not None and transceiver._stopping:
            raise InvalidStateError("setParameters() on a stopped transceiver")
        last = self._last_parameters
        if last is None:
            raise InvalidStateError(
                "setParameters() needs the result of a getParameters() call in the same task"
            )
        if parameters.get("transactionId") != last["transactionId"]:
            raise InvalidModificationError("setParameters(): transactionId does not match")
        encodings = parameters.get("encodings")
        if not isinstance(encodings, (list, tuple)) or len(encodings) != len(last["encodings"]):
            raise InvalidModificationError("setParameters(): the number of encodings changed")
        for key in ("rtcp", "headerExtensions", "codecs"):
            if key in parameters and parameters[key] != last[key]:
                raise InvalidModificationError(f"setParameters(): {key} is read-only")
        settings: dict[str, Any] = {}
        for encoding in encodings:
            if not isinstance(encoding, Mapping):
                raise TypeError("setParameters(): an encoding must be a dictionary")
            scale = encoding.get("scaleResolutionDownBy")
            if scale is not None and (not isinstance(scale, (int, float)) or scale < 1.0):
                raise ValueError("setParameters(): scaleResolutionDownBy must be >= 1.0")
            rate = encoding.get("maxFramerate")
            if rate is not None and (not isinstance(rate, (int, float)) or rate < 0):
                raise ValueError("setParameters(): maxFramerate must be >= 0")
            bitrate = encoding.get("maxBitrate")
            if bitrate is not None and (not isinstance(bitrate, int) or bitrate <= 0):
                raise ValueError("setParameters(): maxBitrate must be a positive integer")
            for key in SETTABLE_ENCODING_FIELDS:
                if key in encoding and key != "active":
                    settings[key] = encoding[key]
            if encoding.get("active", True) is False:
                settings["active"] = False
        preference = parameters.get("degradationPreference")
        if preference is not None and preference not in (
            "maintain-framerate",
            "maintain-resolution",
            "balanced",
        ):
            raise TypeError(f"setParameters(): bad degradationPreference {preference!r}")
        self._last_parameters = None
        self._encoding_settings = settings
        self._degradation_preference = preference
        self._controller.sender_parameters_changed(self)

    @staticmethod
    def getCapabilities(kind: str) -> dict[str, Any] | None:
        return _capabilities(kind)

    async def getStats(self) -> dict[str, dict[str, Any]]:
        report = await self._controller.pc.getStats()
        return {k: v for k, v in report.items() if v.get("ssrc") == self._ssrc}

    def __repr__(self) -> str:
        return f"<RTCRtpSender {self._kind} track={self._track!r}>"


_SOURCE_WINDOW = 10.0  # seconds (webrtc-pc 5.3.1)


def _linear_level(dbov: int) -> float:
    """RFC 6464 -dBov to the W3C linear audioLevel (127 is silence: 0)."""
    return 0.0 if dbov >= 127 else 10.0 ** (-dbov / 20.0)


class RTCRtpReceiver:
    """webrtc-pc 5.3. ``track`` exists from the start (muted until media arrives)."""

    def __init__(self, controller: MediaController, kind: str) -> None:
        self._controller = controller
        self._kind = kind
        self._track = RemoteStreamTrack(kind)
        self._transceiver: RTCRtpTransceiver | None = None

    @property
    def track(self) -> RemoteStreamTrack:
        return self._track

    @property
    def transport(self) -> RTCDtlsTransport | None:
        """webrtc-pc 5.2/5.3: the RTCDtlsTransport (bundled: the one of the connection)."""
        transports = self._controller.pc._w3c_transports()
        return transports.dtls if transports is not None else None

    @staticmethod
    def getCapabilities(kind: str) -> dict[str, Any] | None:
        return _capabilities(kind)

    def getParameters(self) -> dict[str, Any]:
        transceiver = self._transceiver
        codecs = transceiver._codecs if transceiver is not None else []
        return {"codecs": [_codec_dict(c) for c in codecs]}

    def getSynchronizationSources(self) -> list[dict[str, Any]]:
        """webrtc-pc 5.3.1: the SSRC heard in the last 10 s (``source``, ``timestamp`` in ms
        since the Unix epoch, ``rtpTimestamp``; ``audioLevel`` (0..1, linear) when the RFC 6464
        extension is negotiated and the remote sends it)."""
        core = self._core()
        if core is None or core.ssrc is None or core.last_packet_time is None:
            return []
        if time.monotonic() - core.last_packet_time > _SOURCE_WINDOW:
            return []
        entry: dict[str, Any] = {
            "timestamp": (core.last_packet_time + self._controller.clock_offset()) * 1000.0,
            "source": core.ssrc,
            "rtpTimestamp": core.last_rtp_timestamp,
        }
        if core.last_audio_level is not None:
            entry["audioLevel"] = _linear_level(core.last_audio_level)
        return [entry]

    def getContributingSources(self) -> list[dict[str, Any]]:
        """webrtc-pc 5.3.1: CSRCs (RFC 3550) of packets from the last 10 s, newest first."""
        core = self._core()
        if core is None:
            return []
        now = time.monotonic()
        offset = self._controller.clock_offset()
        out = [
            {"timestamp": (t + offset) * 1000.0, "source": csrc, "rtpTimestamp": rtp_ts}
            for csrc, (t, rtp_ts) in core.contributing_sources.items()
            if now - t <= _SOURCE_WINDOW
        ]
        out.sort(key=lambda e: -float(e["timestamp"]))
        return out

    def _core(self) -> RtpReceiverCore | None:
        transceiver = self._transceiver
        return self._controller.receiver_core(transceiver) if transceiver is not None else None

    async def getStats(self) -> dict[str, dict[str, Any]]:
        report = await self._controller.pc.getStats()
        return {k: v for k, v in report.items() if v.get("trackIdentifier") == self._track.id}

    def __repr__(self) -> str:
        return f"<RTCRtpReceiver {self._kind} track={self._track.id}>"


class RTCRtpTransceiver:
    """webrtc-pc 5.4: one m= section; a sender and a receiver sharing it."""

    def __init__(
        self,
        controller: MediaController,
        kind: str,
        track: MediaStreamTrack | None,
        direction: str = "sendrecv",
        streams: Iterable[MediaStream] = (),
    ) -> None:
        if direction not in DIRECTIONS:
            raise TypeError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        self._controller = controller
        self._kind = kind
        self._direction = direction
        self._current_direction: str | None = None
        self._mid: str | None = None  # negotiated (visible) mid
        self._assigned_mid: str | None = None  # mid of an offer not yet answered
        self._stopping = False
        self._stopped = False
        self.sender = RTCRtpSender(controller, kind, track)
        self.sender._stream_ids = [s.id for s in streams]
        self.sender._transceiver = self
        self.receiver = RTCRtpReceiver(controller, kind)
        self.receiver._transceiver = self
        # Negotiated state (set when an answer is applied).
        self._codecs: list[RtpCodec] = []  # send/receive codec first, then RTX entries
        self._extensions: dict[str, int] = {}
        self._preferences: list[RtpCodec] | None = None
        self._remote_ssrcs: list[int] = []
        self._fired_recv = False
        self._added_by_add_track = False
        self._created_by_remote = False
        self._ever_sent = False
        self._negotiated_direction: str | None = None
        self._negotiated_streams: list[str] = []
        # (codecs, extensions, direction) of an answer created but not yet applied.
        self._pending: tuple[list[RtpCodec], dict[str, int], str] | None = None

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def mid(self) -> str | None:
        return self._mid

    @property
    def direction(self) -> str:
        return self._direction

    @direction.setter
    def direction(self, value: str) -> None:
        if value not in DIRECTIONS:
            raise TypeError(f"direction must be one of {DIRECTIONS}, not {value!r}")
        if self._stopping:
            raise InvalidStateError("cannot change the direction of a stopped transceiver")
        if value != self._direction:
            self._direction = value
            self._controller.update_negotiation_needed()

    @property
    def currentDirection(self) -> str | None:
        if self._stopped:
            return "stopped"
        return self._current_direction

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """Stop sending and receiving; the m= section is rejected at the next negotiation."""
        if self._stopping:
            return
        self._stopping = True
        self._direction = "stopped"
        self._controller.stop_transceiver(self)
        self._controller.update_negotiation_needed()

    def setCodecPreferences(self, codecs: list[Any]) -> None:
        """webrtc-pc 5.4 setCodecPreferences(): codec dicts (``mimeType``, ``clockRate``,
        ``channels``, ``sdpFmtpLine``) as getCapabilities() returns them; ``[]`` resets.

        A codec that matches no capability, or a list of only RTX entries, raises
        InvalidModificationError. RTX is offered only when ``video/rtx`` is in the list.
        """
        if not codecs:
            self._preferences = None
            return
        caps = _capabilities(self._kind) or {"codecs": []}
        by_key: list[tuple[dict[str, Any], RtpCodec | None]] = []
        available = [c for c in local_codecs(self._kind) if c.name != "rtx"]
        for cap in caps["codecs"]:
            match = next(
                (c for c in available if _codec_dict(c, with_pt=False) == cap),
                None,
            )
            by_key.append((cap, match))
        chosen: list[RtpCodec] = []
        rtx = False
        for wanted in codecs:
            if not isinstance(wanted, Mapping):
                raise TypeError("setCodecPreferences() takes RTCRtpCodec dictionaries")
            found = next(((cap, c) for cap, c in by_key if _codec_matches(wanted, cap)), None)
            if found is None:
                raise InvalidModificationError(
                    f"setCodecPreferences: {wanted.get('mimeType')!r} is not in getCapabilities()"
                )
            codec = found[1]
            if codec is None:
                rtx = True
            elif codec not in chosen:
                chosen.append(codec)
        if not chosen:
            raise InvalidModificationError("setCodecPreferences: only resiliency codecs given")
        if rtx and self._kind == "video":
            chosen.append(rtx_codec(chosen[0], 0))  # marker: offer RTX for every codec
        self._preferences = chosen

    # --------------------------------------------------------- helpers for the controller

    @property
    def send_codec(self) -> RtpCodec | None:
        return next((c for c in self._codecs if c.name != "rtx"), None)

    def _sends_locally(self) -> bool:
        return _sends(self._direction)

    def rtx_payload_type(self, codec: RtpCodec) -> int | None:
        for c in self._codecs:
            if c.name == "rtx" and c.parameter("apt") == str(codec.payload_type):
                return c.payload_type
        return None

    def offer_codecs(self) -> list[RtpCodec]:
        """Codecs of our next offer: the preferences (setCodecPreferences) if any, keeping
        the payload types negotiated before; else what was negotiated; else everything."""
        if self._preferences is not None:
            want_rtx = any(c.name == "rtx" for c in self._preferences)
            negotiated = [c for c in self._codecs if c.name != "rtx"]
            out: list[RtpCodec] = []
            for codec in self._preferences:
                if codec.name == "rtx":
                    continue
                match = next((n for n in negotiated if _same_codec(n, codec)), None)
                out.append(match or codec)
                if codec.kind != "video" or not want_rtx:
                    continue
                rtx_pt = self.rtx_payload_type(match) if match is not None else None
                if rtx_pt is not None and match is not None:
                    out.append(rtx_codec(match, rtx_pt))
                else:
                    out.append(rtx_codec(codec, codec.payload_type + 1))
            return out
        if self._codecs:
            return list(self._codecs)
        return local_codecs(self._kind)

    def __repr__(self) -> str:
        return (
            f"<RTCRtpTransceiver {self._kind} mid={self._mid} direction={self._direction} "
            f"current={self.currentDirection}>"
        )


def _codec_dict(codec: RtpCodec, with_pt: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if with_pt:
        out["payloadType"] = codec.payload_type
    out["mimeType"] = codec.mime_type
    out["clockRate"] = codec.clock_rate
    if codec.kind == "audio":
        out["channels"] = codec.channels
    if codec.fmtp and not (codec.name == "rtx" and not with_pt):
        out["sdpFmtpLine"] = codec.fmtp.partition(" ")[2]
    return out


def _same_codec(a: RtpCodec, b: RtpCodec) -> bool:
    if a.name.lower() != b.name.lower() or a.clock_rate != b.clock_rate:
        return False
    if a.name.lower() == "h264":
        return (a.parameter("profile-level-id") or "").lower() == (
            b.parameter("profile-level-id") or ""
        ).lower() and (a.parameter("packetization-mode") == b.parameter("packetization-mode"))
    return True


def _codec_matches(wanted: Mapping[str, Any], cap: Mapping[str, Any]) -> bool:
    """webrtc-pc "codec dictionary match": mimeType (case-insensitive), clockRate, channels
    and sdpFmtpLine (both absent, or equal)."""
    if str(wanted.get("mimeType", "")).lower() != str(cap["mimeType"]).lower():
        return False
    if wanted.get("clockRate") != cap["clockRate"]:
        return False
    if wanted.get("channels") != cap.get("channels"):
        return False
    return wanted.get("sdpFmtpLine") == cap.get("sdpFmtpLine")


def _capabilities(kind: str) -> dict[str, Any] | None:
    """RTCRtpCapabilities (webrtc-pc 5.2): codecs without payload types, RTX listed once."""
    if kind not in ("audio", "video"):
        return None
    codecs: list[dict[str, Any]] = []
    for c in local_codecs(kind):
        entry = _codec_dict(c, with_pt=False)
        if entry not in codecs:
            codecs.append(entry)
    return {
        "codecs": codecs,
        "headerExtensions": [{"uri": uri} for uri in HEADER_EXTENSIONS[kind]],
    }


# ---------------------------------------------------------------------- SDP


def media_lines(
    transceiver: RTCRtpTransceiver,
    codecs: list[RtpCodec],
    extensions: dict[str, int],
    direction: str,
    cname: str,
) -> list[str]:
    """Attribute lines (without ``a=``) of one audio/video m= section."""
    lines = [f"extmap:{i} {uri}" for uri, i in sorted(extensions.items(), key=lambda e: e[1])]
    lines.append(direction)
    sender = transceiver.sender
    sending = _sends(direction)
    if sending:
        for stream in sender._stream_ids or ["-"]:
            lines.append(f"msid:{stream} {sender._msid_track}")
    lines.append("rtcp-rsize")
    for codec in codecs:
        lines.append(f"rtpmap:{codec.rtpmap}")
        for fb in codec.rtcp_feedback:
            lines.append(f"rtcp-fb:{codec.payload_type} {fb}")
        if codec.fmtp:
            lines.append(f"fmtp:{codec.fmtp}")
    if sending:
        has_rtx = any(c.name == "rtx" for c in codecs)
        ssrcs = [sender._ssrc]
        if has_rtx:
            ssrcs.append(sender._rtx_ssrc)
            lines.append(f"ssrc-group:FID {sender._ssrc} {sender._rtx_ssrc}")
        stream = sender._stream_ids[0] if sender._stream_ids else "-"
        for ssrc in ssrcs:
            lines.append(f"ssrc:{ssrc} cname:{cname}")
            lines.append(f"ssrc:{ssrc} msid:{stream} {sender._msid_track}")
    return lines


@dataclass(slots=True)
class RemoteMediaInfo:
    """What the media layer reads from one remote audio/video m= section."""

    codecs: list[RtpCodec] = field(default_factory=list)  # all offered, remote PTs
    extensions: dict[str, int] = field(default_factory=dict)  # uri -> id
    direction: str = "sendrecv"
    stream_ids: list[str] = field(default_factory=list)
    track_id: str | None = None
    ssrcs: list[int] = field(default_factory=list)


def _is_int(text: str) -> bool:
    return text.isascii() and text.isdigit()


def read_remote_media(
    kind: str, fmt: list[str], attributes: list[tuple[str, str | None]]
) -> RemoteMediaInfo:
    """Parse the media attributes of a remote m= section; malformed lines are skipped."""
    info = RemoteMediaInfo()
    rtpmaps: dict[int, str] = {}
    fmtps: dict[int, str] = {}
    feedback: dict[str, list[str]] = {}
    direction = None
    for name, value in attributes:
        if name in DIRECTIONS and value is None:
            direction = name
            continue
        if value is None:
            continue
        head, _, rest = value.strip().partition(" ")
        if name == "rtpmap" and _is_int(head):
            rtpmaps[int(head)] = value.strip()
        elif name == "fmtp" and _is_int(head):
            fmtps[int(head)] = value.strip()
        elif name == "rtcp-fb" and rest:
            feedback.setdefault(head, []).append(rest.strip())
        elif name == "extmap" and rest:
            ext_id = head.split("/")[0]
            uri = rest.split()[0]
            if _is_int(ext_id) and 0 < int(ext_id) < 256:
                info.extensions.setdefault(uri, int(ext_id))
        elif name == "msid":
            if head and head != "-":
                info.stream_ids.append(head)
            if rest:
                info.track_id = rest.split()[0]
        elif name == "ssrc" and _is_int(head):
            ssrc = int(head)
            if ssrc < 1 << 32 and ssrc not in info.ssrcs:
                info.ssrcs.append(ssrc)
    info.direction = direction or "sendrecv"
    for pt_text in fmt:
        if not _is_int(pt_text):
            continue
        pt = int(pt_text)
        rtpmap = rtpmaps.get(pt)
        if rtpmap is None:
            continue
        try:
            codec = RtpCodec.from_sdp(
                kind, rtpmap, fmtps.get(pt), feedback.get(pt_text, []) + feedback.get("*", [])
            )
        except ValueError:
            continue
        info.codecs.append(codec)
    return info


def choose_codecs(local: list[RtpCodec], remote: list[RtpCodec]) -> list[RtpCodec]:
    """Every common codec in the remote's order (remote payload types), each followed by its
    RTX (video), or [] when none. The first one is what both sides send (RFC 8829 5.3.1)."""
    common = negotiate_codecs([c for c in local if c.name != "rtx"], remote)
    want_rtx = any(c.name == "rtx" for c in local)  # setCodecPreferences may leave it out
    out: list[RtpCodec] = []
    for primary in common:
        if primary.name == "rtx":
            continue
        out.append(primary)
        if primary.kind != "video" or not want_rtx:
            continue
        rtx = next(
            (
                c
                for c in common
                if c.name == "rtx" and c.parameter("apt") == str(primary.payload_type)
            ),
            None,
        )
        if rtx is not None:
            out.append(
                RtpCodec(rtx.kind, "rtx", rtx.clock_rate, rtx.payload_type, 1, rtx.parameters)
            )
    return out


def order_by_preferences(codecs: list[RtpCodec], preferences: list[RtpCodec]) -> list[RtpCodec]:
    """An answer's codecs (each followed by its RTX) in the answerer's setCodecPreferences
    order (RFC 8829 5.3.1); codecs the preferences do not name keep their place after."""
    groups: list[list[RtpCodec]] = []
    for codec in codecs:
        if codec.name == "rtx" and groups:
            groups[-1].append(codec)
        else:
            groups.append([codec])

    def rank(group: list[RtpCodec]) -> int:
        return next(
            (i for i, p in enumerate(preferences) if p.name != "rtx" and _same_codec(p, group[0])),
            len(preferences),
        )

    groups.sort(key=rank)
    return [c for group in groups for c in group]


def choose_extensions(kind: str, remote: dict[str, int]) -> dict[str, int]:
    """The remote's ids of the header extensions we support."""
    return {uri: i for uri, i in remote.items() if uri in HEADER_EXTENSIONS.get(kind, ())}
