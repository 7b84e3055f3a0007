"""Encoders and decoders through PyAV (FFmpeg): Opus (libopus), VP8 (libvpx), H.264 (libx264).

Encoders take PyAV frames and return ``(encoded bytes, RTP timestamp in the codec clock)``
pairs; decoders take encoded frames and return PyAV frames whose ``pts`` counts the codec clock
from the first frame (``time_base`` 1/clock rate). Realtime settings throughout: no lookahead,
no B-frames, the fastest presets.
"""

from __future__ import annotations

import fractions
import logging
from typing import Any, Protocol

import av
from av.video.frame import PictureType

from rtcpeer.rtp.codecs import RtpCodec

__all__ = [
    "AudioDecoder",
    "Decoder",
    "Encoder",
    "OpusEncoder",
    "VideoDecoder",
    "VideoEncoder",
    "decoder_for",
    "encoder_for",
    "h264_encoder_available",
]

logger = logging.getLogger(__name__)

VIDEO_CLOCK = 90000
AUDIO_CLOCK = 48000


class Encoder(Protocol):
    target_bitrate: int

    def encode(self, frame: Any, force_keyframe: bool = False) -> list[tuple[bytes, int]]: ...


class Decoder(Protocol):
    def decode(self, data: bytes, timestamp: int) -> list[Any]: ...


def _to_clock(frame: Any, clock: int) -> int | None:
    if frame.pts is None or frame.time_base is None:
        return None
    return int(frame.pts * frame.time_base * clock)


class VideoEncoder:
    """VP8 (``codec="VP8"``) or H.264 constrained baseline (``codec="H264"``)."""

    _OPTIONS: dict[str, dict[str, str]] = {
        "VP8": {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
            "error-resilient": "1",
            "auto-alt-ref": "0",
            "static-thresh": "0",
        },
        "H264": {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline"},
    }
    _FFMPEG = {"VP8": "libvpx", "H264": "libx264"}

    def __init__(self, codec: str = "VP8", bitrate: int = 1_000_000, framerate: int = 30) -> None:
        key = codec.upper()
        if key not in self._FFMPEG:
            raise ValueError(f"no video encoder for {codec!r}")
        self.codec = key
        self.target_bitrate = bitrate
        self.framerate = framerate
        self._ctx: Any = None
        self._size: tuple[int, int] | None = None
        self._bitrate_open = 0
        self._frames_since_open = 0
        self._count = 0
        self._last_ts: int | None = None
        self._reopen_requested = False

    def request_reopen(self) -> None:
        """Apply ``target_bitrate`` at the next frame now (setParameters maxBitrate), not
        after the usual hysteresis; costs one key frame."""
        self._reopen_requested = True

    def _open(self, width: int, height: int) -> None:
        ctx: Any = av.CodecContext.create(self._FFMPEG[self.codec], "w")
        ctx.width = width
        ctx.height = height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        ctx.framerate = self.framerate
        ctx.bit_rate = self.target_bitrate
        ctx.gop_size = 3000  # key frames on demand (PLI/FIR), and every ~100 s anyway
        ctx.options = dict(self._OPTIONS[self.codec])
        # Threads only pay off for large frames; for small ones their hand-offs cost more than
        # they save (and spin on a busy machine).
        ctx.thread_count = 1 if width * height <= 640 * 480 else 2
        if self.codec == "H264":
            ctx.max_b_frames = 0
        ctx.open()
        self._ctx = ctx
        self._size = (width, height)
        self._bitrate_open = self.target_bitrate
        self._frames_since_open = 0

    def encode(self, frame: Any, force_keyframe: bool = False) -> list[tuple[bytes, int]]:
        size = (frame.width, frame.height)
        reopen = self._ctx is None or size != self._size or self._reopen_requested
        self._reopen_requested = False
        # libvpx/libx264 via PyAV take the bitrate at open time, and reopening costs a key
        # frame: only for a large change (down 25 % / up 50 %), at most every 5 s of frames.
        if not reopen and self._frames_since_open >= 5 * self.framerate:
            target, current = self.target_bitrate, self._bitrate_open
            reopen = target < current * 3 // 4 or target > current * 3 // 2
        if reopen:
            self._open(*size)
            force_keyframe = True
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        ts = _to_clock(frame, VIDEO_CLOCK)
        if ts is None:
            ts = self._count * VIDEO_CLOCK // self.framerate
        if self._last_ts is not None and ts <= self._last_ts:
            ts = self._last_ts + 1  # encoders need strictly increasing pts
        self._last_ts = ts
        self._count += 1
        self._frames_since_open += 1
        frame.pts = ts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        frame.pict_type = PictureType.I if force_keyframe else PictureType.NONE
        out: list[tuple[bytes, int]] = []
        for packet in self._ctx.encode(frame):
            pts = packet.pts if packet.pts is not None else ts
            out.append((bytes(packet), int(pts)))
        return out


class OpusEncoder:
    """Opus at 48 kHz stereo, 20 ms frames (RFC 7587 section 4)."""

    FRAME_SAMPLES = 960

    def __init__(self, bitrate: int = 64000) -> None:
        self.target_bitrate = bitrate
        ctx: Any = av.CodecContext.create("libopus", "w")
        ctx.sample_rate = AUDIO_CLOCK
        ctx.layout = "stereo"
        ctx.format = "s16"
        ctx.bit_rate = bitrate
        ctx.time_base = fractions.Fraction(1, AUDIO_CLOCK)
        ctx.options = {"application": "voip", "frame_duration": "20"}
        ctx.open()
        self._ctx = ctx
        self._resampler = av.AudioResampler(
            format="s16", layout="stereo", rate=AUDIO_CLOCK, frame_size=self.FRAME_SAMPLES
        )
        self._next_ts: int | None = None
        self._in_pts = 0

    def encode(self, frame: Any, force_keyframe: bool = False) -> list[tuple[bytes, int]]:
        if self._next_ts is None:
            start = _to_clock(frame, AUDIO_CLOCK)
            self._next_ts = start if start is not None else 0
        out: list[tuple[bytes, int]] = []
        for chunk in self._resampler.resample(frame):
            chunk.pts = self._in_pts
            chunk.time_base = fractions.Fraction(1, AUDIO_CLOCK)
            self._in_pts += chunk.samples
            for packet in self._ctx.encode(chunk):
                out.append((bytes(packet), self._next_ts))
                self._next_ts += packet.duration or self.FRAME_SAMPLES
        return out


class _Unwrapper:
    __slots__ = ("_first",)

    def __init__(self) -> None:
        self._first: int | None = None

    def pts(self, timestamp: int) -> int:
        if self._first is None:
            self._first = timestamp
        return (timestamp - self._first) & 0xFFFFFFFF


class VideoDecoder:
    def __init__(self, codec: str = "VP8") -> None:
        name = {"VP8": "vp8", "H264": "h264"}.get(codec.upper())
        if name is None:
            raise ValueError(f"no video decoder for {codec!r}")
        self._ctx: Any = av.CodecContext.create(name, "r")
        # frame threading would hold frames back (one per thread): latency we do not want
        self._ctx.thread_count = 1
        self._time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._unwrap = _Unwrapper()
        self.errors = 0

    def decode(self, data: bytes, timestamp: int) -> list[Any]:
        try:
            frames = self._ctx.decode(av.Packet(data))
        except Exception as exc:  # corrupt input from the network: FFmpeg or PyAV errors
            self.errors += 1
            logger.debug("video decode error: %s", exc)
            return []
        pts = self._unwrap.pts(timestamp)
        for f in frames:
            f.pts = pts
            f.time_base = self._time_base
        return list(frames)


class AudioDecoder:
    def __init__(self, codec: str = "opus") -> None:
        if codec.lower() != "opus":
            raise ValueError(f"no audio decoder for {codec!r}")
        ctx: Any = av.CodecContext.create("libopus", "r")
        ctx.sample_rate = AUDIO_CLOCK
        ctx.layout = "stereo"
        self._ctx = ctx
        self._time_base = fractions.Fraction(1, AUDIO_CLOCK)
        self._unwrap = _Unwrapper()
        self.errors = 0

    def decode(self, data: bytes, timestamp: int) -> list[Any]:
        try:
            frames = self._ctx.decode(av.Packet(data))
        except Exception as exc:  # corrupt input from the network
            self.errors += 1
            logger.debug("audio decode error: %s", exc)
            return []
        pts = self._unwrap.pts(timestamp)
        for f in frames:
            f.pts = pts
            f.time_base = self._time_base
            pts += f.samples
        return list(frames)


def h264_encoder_available() -> bool:
    try:
        av.codec.Codec("libx264", "w")
    except Exception:
        return False
    return True


def encoder_for(codec: RtpCodec, bitrate: int | None = None) -> Encoder:
    if codec.name.lower() == "opus":
        return OpusEncoder(bitrate or 64000)
    return VideoEncoder(codec.name, bitrate or 1_000_000)


def decoder_for(codec: RtpCodec) -> Decoder:
    if codec.kind == "audio":
        return AudioDecoder(codec.name)
    return VideoDecoder(codec.name)
