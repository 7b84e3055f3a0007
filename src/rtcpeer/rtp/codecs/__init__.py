"""RTP codec descriptions and the payloader/depayloader registry.

Describes what the SDP needs for each codec rtcpeer sends and receives (rtpmap, fmtp, rtcp-fb;
RFC 8866 section 6.6, RFC 4585 section 4.2) and maps a codec name to its payloader and
depayloader. Nothing here imports PyAV; the encoders and decoders live in
``rtcpeer.rtp.codecs.encoders``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rtcpeer.rtp.packet import (
    EXT_ABS_SEND_TIME,
    EXT_AUDIO_LEVEL,
    EXT_MID,
    EXT_TRANSPORT_CC,
)

__all__ = [
    "AUDIO_CODECS",
    "HEADER_EXTENSIONS",
    "VIDEO_CODECS",
    "Depayloader",
    "Payloader",
    "RtpCodec",
    "depayloader_for",
    "negotiate_codecs",
    "payloader_for",
    "rtx_codec",
]


@dataclass(frozen=True, slots=True)
class RtpCodec:
    """One negotiated codec. ``name`` is the rtpmap encoding name ("VP8", "opus", "H264",
    "rtx"); ``parameters`` are the fmtp parameters; ``rtcp_feedback`` the rtcp-fb values."""

    kind: str  # "audio" | "video"
    name: str
    clock_rate: int
    payload_type: int
    channels: int = 1
    parameters: tuple[tuple[str, str], ...] = ()
    rtcp_feedback: tuple[str, ...] = ()

    @property
    def mime_type(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def rtpmap(self) -> str:
        """The a=rtpmap value, e.g. "111 opus/48000/2"."""
        tail = f"/{self.channels}" if self.kind == "audio" and self.channels > 1 else ""
        return f"{self.payload_type} {self.name}/{self.clock_rate}{tail}"

    @property
    def fmtp(self) -> str | None:
        """The a=fmtp value or None when the codec has no parameters."""
        if not self.parameters:
            return None
        params = ";".join(f"{k}={v}" for k, v in self.parameters)
        return f"{self.payload_type} {params}"

    def parameter(self, name: str) -> str | None:
        for k, v in self.parameters:
            if k == name:
                return v
        return None

    @classmethod
    def from_sdp(
        cls, kind: str, rtpmap: str, fmtp: str | None = None, rtcp_fb: list[str] | None = None
    ) -> RtpCodec:
        """From the a=rtpmap value ("96 VP8/90000"), the a=fmtp value for the same payload
        type ("96 apt=95") and the a=rtcp-fb values for it ("96 nack pli" or "nack pli").
        Raises ValueError for a malformed rtpmap."""
        pt_text, _, encoding = rtpmap.strip().partition(" ")
        parts = encoding.strip().split("/")
        if not pt_text.isdigit() or len(parts) < 2 or not parts[1].isdigit():
            raise ValueError(f"malformed rtpmap {rtpmap!r}")
        pt = int(pt_text)
        channels = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 1
        params: list[tuple[str, str]] = []
        if fmtp:
            _, _, values = fmtp.strip().partition(" ")
            for item in values.split(";"):
                key, sep, value = item.strip().partition("=")
                if key:
                    params.append((key.strip(), value.strip() if sep else ""))
        feedback: list[str] = []
        for fb in rtcp_fb or []:
            head, _, rest = fb.strip().partition(" ")
            feedback.append(rest.strip() if head.isdigit() or head == "*" else fb.strip())
        return cls(kind, parts[0], int(parts[1]), pt, channels, tuple(params), tuple(feedback))


_VIDEO_FB = ("goog-remb", "transport-cc", "ccm fir", "nack", "nack pli")

AUDIO_CODECS: list[RtpCodec] = [
    RtpCodec(
        "audio",
        "opus",
        48000,
        111,
        channels=2,
        parameters=(("minptime", "10"), ("useinbandfec", "1")),
        rtcp_feedback=("transport-cc",),
    ),
]

VIDEO_CODECS: list[RtpCodec] = [
    RtpCodec("video", "VP8", 90000, 96, rtcp_feedback=_VIDEO_FB),
    RtpCodec(
        "video",
        "H264",
        90000,
        102,
        parameters=(
            ("level-asymmetry-allowed", "1"),
            ("packetization-mode", "1"),
            ("profile-level-id", "42e01f"),
        ),
        rtcp_feedback=_VIDEO_FB,
    ),
]

# URIs of the header extensions rtcpeer understands, in the order it offers them.
HEADER_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "audio": (EXT_MID, EXT_ABS_SEND_TIME, EXT_TRANSPORT_CC, EXT_AUDIO_LEVEL),
    "video": (EXT_MID, EXT_ABS_SEND_TIME, EXT_TRANSPORT_CC),
}


def rtx_codec(codec: RtpCodec, payload_type: int) -> RtpCodec:
    """The RFC 4588 retransmission codec for ``codec`` (a=rtpmap:PT rtx/90000, apt=...)."""
    return RtpCodec(
        codec.kind,
        "rtx",
        codec.clock_rate,
        payload_type,
        parameters=(("apt", str(codec.payload_type)),),
    )


def _h264_compatible(codec: RtpCodec) -> bool:
    if (codec.parameter("packetization-mode") or "0") != "1":
        return False
    profile = (codec.parameter("profile-level-id") or "42e01f").lower()
    # profile_idc 0x42 (baseline) with constraint_set1 (constrained baseline), or plain 0x42:
    # what libx264's baseline output and FFmpeg's decoder both handle.
    return len(profile) == 6 and profile[:2] == "42"


def negotiate_codecs(local: list[RtpCodec], remote: list[RtpCodec]) -> list[RtpCodec]:
    """Codecs both sides support, in the remote's order and with the remote's payload types
    and parameters (RFC 8829 section 5.3.1); the rtcp-fb values are the intersection. RTX
    entries are kept when their apt points at a kept codec."""
    out: list[RtpCodec] = []
    kept: set[int] = set()
    for r in remote:
        name = r.name.lower()
        if name == "rtx":
            continue
        for mine in local:
            if (
                mine.name.lower() != name
                or mine.clock_rate != r.clock_rate
                or (mine.kind == "audio" and mine.channels != r.channels)
            ):
                continue
            if name == "h264" and not _h264_compatible(r):
                continue
            fb = tuple(f for f in r.rtcp_feedback if f in mine.rtcp_feedback)
            out.append(
                RtpCodec(
                    r.kind, mine.name, r.clock_rate, r.payload_type, r.channels, r.parameters, fb
                )
            )
            kept.add(r.payload_type)
            break
    for r in remote:
        if r.name.lower() == "rtx" and (r.parameter("apt") or "").isdigit():
            if int(r.parameter("apt") or "0") in kept:
                out.append(r)
    return out


class Payloader(Protocol):
    def packetize(self, frame: bytes, max_size: int) -> list[bytes]:
        """Split one encoded frame into RTP payloads of at most ``max_size`` bytes."""
        ...


class Depayloader(Protocol):
    def depacketize(self, payloads: list[bytes]) -> bytes:
        """Join the payloads of one frame (in sequence order) into the encoded frame.

        Raises rtcpeer.rtp.ParseError for malformed or incomplete input."""
        ...

    def is_keyframe(self, payload: bytes) -> bool:
        """True when ``payload`` is the first packet of a key frame."""
        ...


def payloader_for(name: str) -> Payloader:
    key = name.lower()
    if key == "vp8":
        from rtcpeer.rtp.codecs.vp8 import Vp8Payloader

        return Vp8Payloader()
    if key == "opus":
        from rtcpeer.rtp.codecs.opus import OpusPayloader

        return OpusPayloader()
    if key == "h264":
        from rtcpeer.rtp.codecs.h264 import H264Payloader

        return H264Payloader()
    raise ValueError(f"no payloader for codec {name!r}")


def depayloader_for(name: str) -> Depayloader:
    key = name.lower()
    if key == "vp8":
        from rtcpeer.rtp.codecs.vp8 import Vp8Depayloader

        return Vp8Depayloader()
    if key == "opus":
        from rtcpeer.rtp.codecs.opus import OpusDepayloader

        return OpusDepayloader()
    if key == "h264":
        from rtcpeer.rtp.codecs.h264 import H264Depayloader

        return H264Depayloader()
    raise ValueError(f"no depayloader for codec {name!r}")
