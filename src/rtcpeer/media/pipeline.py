"""asyncio glue between tracks, codecs and the sans-I/O RTP cores.

``RtpMediaSender`` pulls frames from a local track, encodes them (video in a worker thread so the
event loop keeps running), hands them to an ``RtpSenderCore`` and passes the resulting datagrams
to ``send``. It applies the core's key frame requests (PLI/FIR) and bitrate changes to the
encoder. ``RtpMediaReceiver`` turns the frames an ``RtpReceiverCore`` assembled into decoded
PyAV frames on a ``RemoteStreamTrack``, and asks for a key frame when the decoder fails.
Timers (RTCP reports, NACK retries) stay with the owner of the cores: call ``core.timeout(now)``
at ``core.next_timeout()`` and send what ``core.packets_to_send()`` returns.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import logging
import math
import operator
from collections.abc import Callable
from typing import Any

from rtcpeer.media.track import MediaStreamError, MediaStreamTrack, RemoteStreamTrack
from rtcpeer.rtp.codecs.encoders import Decoder, Encoder
from rtcpeer.rtp.receiver import RemoteBye, RtpReceiverCore
from rtcpeer.rtp.sender import BitrateChanged, KeyframeRequested, RtpSenderCore

__all__ = ["RtpMediaReceiver", "RtpMediaSender", "audio_level"]

logger = logging.getLogger(__name__)


class RtpMediaSender:
    def __init__(
        self,
        track: MediaStreamTrack | None,
        core: RtpSenderCore,
        encoder: Encoder,
        send: Callable[[list[bytes]], None],
        *,
        clock: Callable[[], float] | None = None,
        threaded: bool | None = None,
    ) -> None:
        self.track = track
        self.core = core
        self.encoder = encoder
        self._send = send
        self._clock = clock
        self._threaded = core.codec.kind == "video" if threaded is None else threaded
        self._task: asyncio.Task[None] | None = None
        self._track_changed = asyncio.Event()
        self._force_keyframe = False
        self.frames_encoded = 0
        # RTCRtpEncodingParameters (setParameters), see set_encoding().
        self.active = True
        self.scale_resolution_down_by = 1.0
        self.max_framerate: float | None = None
        self.max_bitrate: int | None = None
        self._next_frame_time: float | None = None
        self.frames_skipped = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def replace_track(self, track: MediaStreamTrack | None) -> None:
        """RTCRtpSender.replaceTrack: the next frame comes from ``track`` (a key frame)."""
        self.track = track
        self._force_keyframe = True
        self._track_changed.set()

    def request_keyframe(self) -> None:
        self._force_keyframe = True

    def set_encoding(
        self,
        *,
        active: bool = True,
        max_bitrate: int | None = None,
        scale_resolution_down_by: float | None = None,
        max_framerate: float | None = None,
    ) -> None:
        """Apply RTCRtpEncodingParameters (webrtc-pc 5.2 setParameters): ``active`` False
        stops sending RTP (frames are still pulled and dropped; a key frame on resume),
        ``max_bitrate`` caps the estimator and the encoder (reopened at once),
        ``scale_resolution_down_by`` scales video frames before encoding and
        ``max_framerate`` drops frames above that rate."""
        if active and not self.active:
            self._force_keyframe = True
        self.active = active
        if max_bitrate != self.max_bitrate:
            self.max_bitrate = max_bitrate
            self.core.set_max_bitrate(max_bitrate)
            self._apply_events()
            reopen = getattr(self.encoder, "request_reopen", None)
            if reopen is not None:
                reopen()
        self.scale_resolution_down_by = max(1.0, float(scale_resolution_down_by or 1.0))
        self.max_framerate = float(max_framerate) if max_framerate else None
        self._next_frame_time = None

    def _skip_for_framerate(self, frame: Any) -> bool:
        rate = self.max_framerate
        if rate is None:
            return False
        t = getattr(frame, "time", None)
        if t is None:
            t = self._now()
        interval = 1.0 / rate
        due = self._next_frame_time
        if due is not None and t + 0.002 < due:
            return True
        # keep the cadence; after a gap (or a track change) restart it from this frame
        self._next_frame_time = (
            t + interval if due is None or t - due >= interval else due + interval
        )
        return False

    def _encode(self, frame: Any, force: bool) -> list[tuple[bytes, int]]:
        scale = self.scale_resolution_down_by
        if scale > 1.0 and self.core.codec.kind == "video":
            width = max(2, int(frame.width / scale) & ~1)
            height = max(2, int(frame.height / scale) & ~1)
            pts, time_base = frame.pts, frame.time_base
            frame = frame.reformat(width=width, height=height, format="yuv420p")
            frame.pts, frame.time_base = pts, time_base
        return self.encoder.encode(frame, force)

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def _apply_events(self) -> None:
        for event in self.core.events():
            if isinstance(event, KeyframeRequested):
                self._force_keyframe = True
            elif isinstance(event, BitrateChanged):
                self.encoder.target_bitrate = event.bitrate

    async def _next_frame(self) -> Any:
        while True:
            track = self.track
            if track is None or track.readyState != "live":
                self._track_changed.clear()
                await self._track_changed.wait()
                continue
            recv = asyncio.ensure_future(track.recv())
            changed = asyncio.ensure_future(self._track_changed.wait())
            try:
                done, _ = await asyncio.wait({recv, changed}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                # Stopped while waiting: retrieve the pending recv so a track that ends later
                # does not log "Task exception was never retrieved".
                changed.cancel()
                recv.cancel()
                recv.add_done_callback(_retrieve)
                raise
            changed.cancel()
            if recv in done:
                try:
                    return recv.result()
                except MediaStreamError:
                    if self.track is track:
                        self.track = None
                    continue
            recv.cancel()
            with contextlib.suppress(asyncio.CancelledError, MediaStreamError):
                await recv
            self._track_changed.clear()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            frame = await self._next_frame()
            self._apply_events()
            if not self.active or self._skip_for_framerate(frame):
                self.frames_skipped += 1
                continue
            force, self._force_keyframe = self._force_keyframe, False
            if self.core.sends_audio_level:
                self.core.audio_level = audio_level(frame)
            try:
                if self._threaded:
                    encoded = await loop.run_in_executor(None, self._encode, frame, force)
                else:
                    encoded = self._encode(frame, force)
            except Exception:
                logger.exception("encoder failed; frame dropped")
                continue
            now = self._now()
            for data, timestamp in encoded:
                self.core.send_frame(data, timestamp, now)
                self.frames_encoded += 1
            packets = self.core.packets_to_send()
            if packets:
                self._send(packets)

    async def stop(self, bye: bool = True) -> None:
        """Stop the pump and send the core's BYE (not when a new core takes over the SSRC,
        e.g. after a codec switch)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if bye:
            self._send([self.core.stop()])
        else:
            self.core.stopped = True


class RtpMediaReceiver:
    def __init__(self, core: RtpReceiverCore, decoder: Decoder, track: RemoteStreamTrack) -> None:
        self.core = core
        self.decoder = decoder
        self.track = track
        self.frames_decoded = 0

    def feed(self, now: float) -> None:
        """Decode what the core has assembled; call after ``receive_rtp``/``timeout``."""
        for encoded in self.core.frames():
            errors = getattr(self.decoder, "errors", 0)
            frames = self.decoder.decode(encoded.data, encoded.timestamp)
            if getattr(self.decoder, "errors", 0) != errors:
                self.core.request_keyframe(now)  # corrupt reference: resync on a key frame
            if frames and self.track.muted:
                self.track._set_muted(False)
            for frame in frames:
                self.frames_decoded += 1
                self.track._push(frame)
        for event in self.core.events():
            if isinstance(event, RemoteBye):
                self.track._end()


def audio_level(frame: Any) -> int | None:
    """RFC 6464 level of an s16 audio frame: -dBov of its RMS (0 loudest .. 127 silence)."""
    fmt = frame.format.name
    if fmt not in ("s16", "s16p"):
        return None
    samples = array.array("h", bytes(frame.planes[0]))
    if not samples:
        return 127
    power = sum(map(operator.mul, samples, samples)) / len(samples)
    if power <= 0:
        return 127
    dbov = 10.0 * math.log10(power / (32768.0 * 32768.0))
    return min(127, max(0, round(-dbov)))


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
