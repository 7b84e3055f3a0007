"""Media sinks: record tracks to a file, hand frames to a callback, or count and discard them.

Each sink pulls from its tracks with one asyncio task per track until the track ends or the sink
is stopped. ``MediaRecorder`` is the Python stand-in for the browser's video element plus
MediaRecorder: it encodes with PyAV into any container FFmpeg writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import inspect
import logging
import os
from collections.abc import Callable
from typing import Any

import av

from rtcpeer.media.track import MediaStreamError, MediaStreamTrack

__all__ = ["FrameCallbackSink", "MediaRecorder", "MediaSink", "NullSink"]

logger = logging.getLogger(__name__)


class MediaSink:
    """Base: ``addTrack(track)``, ``await start()``, ``await stop()``; subclasses override
    ``_on_frame(track, frame)`` (may be a coroutine function)."""

    def __init__(self) -> None:
        self._tracks: list[MediaStreamTrack] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.frames: dict[str, int] = {"audio": 0, "video": 0}

    def addTrack(self, track: MediaStreamTrack) -> None:
        self._tracks.append(track)
        if self._tasks:  # already started
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def start(self) -> None:
        for track in self._tracks:
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack, first: Any = None) -> None:
        while True:
            if first is not None:
                frame, first = first, None
            else:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
            self.frames[track.kind] += 1
            result = self._on_frame(track, frame)
            if inspect.isawaitable(result):
                await result

    def _on_frame(self, track: MediaStreamTrack, frame: Any) -> Any:
        return None

    async def wait(self) -> None:
        """Until every track has ended."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


class NullSink(MediaSink):
    """Consumes and discards frames; ``frames`` counts them per kind."""


class FrameCallbackSink(MediaSink):
    """Calls ``callback(frame)`` (or ``callback(track, frame)`` with ``with_track=True``) for
    each frame; the callback may be a coroutine function."""

    def __init__(self, callback: Callable[..., Any], *, with_track: bool = False) -> None:
        super().__init__()
        self._callback = callback
        self._with_track = with_track

    def _on_frame(self, track: MediaStreamTrack, frame: Any) -> Any:
        if self._with_track:
            return self._callback(track, frame)
        return self._callback(frame)


_DEFAULTS = {
    ".webm": ("libvpx", "libopus"),
    ".mkv": ("libvpx", "libopus"),
    ".mp4": ("libx264", "aac"),
    ".ogg": (None, "libopus"),
    ".wav": (None, "pcm_s16le"),
}


class MediaRecorder(MediaSink):
    """Writes tracks to ``file`` (container from the extension or ``format``). Video is encoded
    with libvpx for .webm/.mkv and libx264 for .mp4 unless ``video_codec`` says otherwise."""

    def __init__(
        self,
        file: str,
        format: str | None = None,
        *,
        video_codec: str | None = None,
        audio_codec: str | None = None,
    ) -> None:
        super().__init__()
        ext = os.path.splitext(file)[1].lower()
        vdef, adef = _DEFAULTS.get(ext, ("libvpx", "libopus"))
        self.file = file
        self._format = format
        self._video_codec = video_codec or vdef or "libvpx"
        self._audio_codec = audio_codec or adef or "libopus"
        self._container: Any = None
        self._streams: dict[str, Any] = {}
        self._origin: dict[str, Any] = {}
        self._resamplers: dict[str, Any] = {}

    async def start(self) -> None:
        """Opens the file; waits for the first frame of each video track (its size)."""
        firsts: dict[str, Any] = {}
        for track in self._tracks:
            if track.kind == "video":
                try:
                    firsts[track.id] = await track.recv()
                except MediaStreamError:
                    continue
        self._container = av.open(self.file, "w", format=self._format)
        for track in self._tracks:
            self._add_stream(track, firsts.get(track.id))
        for track in self._tracks:
            first = firsts.get(track.id)
            self._tasks.append(asyncio.ensure_future(self._consume(track, first)))

    def _add_stream(self, track: MediaStreamTrack, first: Any) -> None:
        if track.kind == "audio":
            stream = self._container.add_stream(self._audio_codec, rate=48000)
            stream.layout = "stereo"
            fmt = stream.codec_context.codec.audio_formats[0].name
            self._resamplers[track.id] = av.AudioResampler(
                format=fmt,
                layout="stereo",
                rate=48000,
                frame_size=stream.codec_context.frame_size or None,
            )
        else:
            stream = self._container.add_stream(self._video_codec, rate=30)
            stream.pix_fmt = "yuv420p"
            stream.width = first.width if first is not None else 640
            stream.height = first.height if first is not None else 480
            if self._video_codec == "libvpx":
                stream.options = {"deadline": "realtime", "cpu-used": "8"}
            elif self._video_codec == "libx264":
                stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        self._streams[track.id] = stream

    def addTrack(self, track: MediaStreamTrack) -> None:
        if self._container is not None:
            raise RuntimeError("MediaRecorder.addTrack must be called before start()")
        super().addTrack(track)

    def _on_frame(self, track: MediaStreamTrack, frame: Any) -> None:
        stream = self._streams[track.id]
        if track.kind == "audio":
            frames = self._resamplers[track.id].resample(frame)
        else:
            if (frame.width, frame.height) != (stream.width, stream.height):
                frame = frame.reformat(width=stream.width, height=stream.height)
            frames = [frame]
        for f in frames:
            self._stamp(track, f, stream)
            for packet in stream.encode(f):
                self._container.mux(packet)

    def _stamp(self, track: MediaStreamTrack, frame: Any, stream: Any) -> None:
        """Rebase timestamps to start at 0 in the stream's time base, strictly increasing."""
        if track.kind == "audio":
            tb = fractions.Fraction(1, 48000)
        else:
            tb = stream.codec_context.time_base or fractions.Fraction(1, 30)
        t = (
            float(frame.pts * frame.time_base)
            if frame.pts is not None and frame.time_base
            else None
        )
        state = self._origin.setdefault(track.id, {"t0": t, "last": -1})
        if t is None or state["t0"] is None:
            pts = state["last"] + 1
        else:
            pts = int((t - state["t0"]) / tb)
            if pts <= state["last"]:
                pts = state["last"] + 1
        state["last"] = pts
        frame.pts = pts
        frame.time_base = tb

    async def stop(self) -> None:
        await super().stop()
        if self._container is None:
            return
        for stream in self._streams.values():
            try:
                for packet in stream.encode(None):
                    self._container.mux(packet)
            except av.error.FFmpegError as exc:
                logger.debug("flushing %s: %s", stream, exc)
        self._container.close()
        self._container = None
