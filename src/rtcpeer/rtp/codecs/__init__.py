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
    "audio": (EXT_MID, EXT_ABS_SEND_TIME, EXT_TRANSPORT_CC),
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
