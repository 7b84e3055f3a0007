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

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from rtcpeer.media.track import MediaStreamError, MediaStreamTrack, RemoteStreamTrack
from rtcpeer.rtp.codecs.encoders import Decoder, Encoder
from rtcpeer.rtp.receiver import RemoteBye, RtpReceiverCore
from rtcpeer.rtp.sender import BitrateChanged, KeyframeRequested, RtpSenderCore

__all__ = ["RtpMediaReceiver", "RtpMediaSender"]

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
            force, self._force_keyframe = self._force_keyframe, False
            try:
                if self._threaded:
                    encoded = await loop.run_in_executor(None, self.encoder.encode, frame, force)
                else:
                    encoded = self.encoder.encode(frame, force)
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

    async def stop(self) -> None:
        """Stop the pump and send the core's BYE."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._send([self.core.stop()])


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


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
