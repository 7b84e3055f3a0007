"""Media sources: generated test video and tone audio, and a file or device read with PyAV.

Generated sources pace themselves in ``recv()`` against the event loop clock (one frame every
1/framerate s, one 20 ms audio frame every 20 ms); ``next_frame()`` builds the next frame without
waiting, for tests driven by a fake clock and for encoders that pace themselves.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import logging
import math
import threading
from typing import Any

import av

from rtcpeer.media.track import MediaStreamError, MediaStreamTrack

__all__ = ["AudioToneTrack", "MediaPlayer", "VideoTestTrack"]

logger = logging.getLogger(__name__)

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)


class _Paced(MediaStreamTrack):
    _interval = 0.02

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self._start: float | None = None
        self._index = 0

    async def _recv(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._index * self._interval
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        return self.next_frame()

    def next_frame(self) -> Any:
        raise NotImplementedError


class VideoTestTrack(_Paced):
    """A moving test pattern: vertical colour bars scrolling sideways, a frame counter band.

    Frames are yuv420p with ``time_base`` 1/90000 and ``pts`` advancing 90000/framerate.
    """

    def __init__(self, width: int = 640, height: int = 480, framerate: int = 30) -> None:
        if width % 2 or height % 2:
            raise ValueError("width and height must be even for yuv420p")
        super().__init__("video")
        self.width = width
        self.height = height
        self.framerate = framerate
        self._interval = 1.0 / framerate
        bars_y = (235, 210, 170, 145, 106, 81, 41, 16)
        bars_u = (128, 16, 166, 54, 202, 90, 240, 128)
        bars_v = (128, 146, 16, 34, 222, 240, 110, 128)

        def row(values: tuple[int, ...], w: int) -> bytes:
            # two periods so that any window of w bytes is a contiguous slice
            return bytes(values[(x * len(values)) // w % len(values)] for x in range(2 * w))

        self._rows = (row(bars_y, width), row(bars_u, width // 2), row(bars_v, width // 2))

    def getSettings(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "frameRate": self.framerate}

    def next_frame(self) -> Any:
        n = self._index
        self._index += 1
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        shift = (n * 4) % self.width
        band = (n * 8) % self.height
        for i, plane in enumerate(frame.planes):
            w = self.width if i == 0 else self.width // 2
            h = self.height if i == 0 else self.height // 2
            off = shift if i == 0 else shift // 2
            line = self._rows[i][off : off + w] + bytes(plane.line_size - w)
            if i == 0:
                b = band
                lo = min(h, b + 16)
                grey = bytes(((n * 7) & 0xFF,)) * w + bytes(plane.line_size - w)
                data = line * b + grey * (lo - b) + line * (h - lo)
            else:
                data = line * h
            plane.update(data)
        frame.pts = n * 90000 // self.framerate
        frame.time_base = VIDEO_TIME_BASE
        return frame


class AudioToneTrack(_Paced):
    """A sine tone, s16 stereo at 48 kHz in 20 ms frames (960 samples), ``time_base`` 1/48000."""

    def __init__(
        self,
        frequency: float = 440.0,
        sample_rate: int = 48000,
        samples_per_frame: int = 960,
        amplitude: float = 0.25,
    ) -> None:
        super().__init__("audio")
        self.sample_rate = sample_rate
        self.samples_per_frame = samples_per_frame
        self._interval = samples_per_frame / sample_rate
        self._time_base = fractions.Fraction(1, sample_rate)
        # one second of samples: an integer frequency loops seamlessly over it
        level = int(32767 * amplitude)
        step = 2 * math.pi * frequency / sample_rate
        mono = [int(level * math.sin(step * i)) for i in range(sample_rate)]
        table = array.array("h", [s for s in mono for _ in range(2)])
        self._table = table.tobytes() * 2
        self._pos = 0

    def getSettings(self) -> dict[str, Any]:
        return {"sampleRate": self.sample_rate, "channelCount": 2, "sampleSize": 16}

    def next_frame(self) -> Any:
        n = self._index
        self._index += 1
        count = self.samples_per_frame
        frame = av.AudioFrame(format="s16", layout="stereo", samples=count)
        start = self._pos * 4
        frame.planes[0].update(self._table[start : start + count * 4])
        self._pos = (self._pos + count) % self.sample_rate
        frame.sample_rate = self.sample_rate
        frame.pts = n * count
        frame.time_base = self._time_base
        return frame


class _PlayerTrack(MediaStreamTrack):
    def __init__(self, player: MediaPlayer, kind: str) -> None:
        super().__init__(kind)
        self._player = player
        self._queue: asyncio.Queue[Any] = asyncio.Queue(10)
        self._t0: float | None = None

    async def _recv(self) -> Any:
        self._player._start(self)
        frame = await self._queue.get()
        if frame is None:
            self._end()
            raise MediaStreamError(f"{self.kind} track of {self._player.file} ended")
        if self._player.realtime and frame.pts is not None and frame.time_base is not None:
            loop = asyncio.get_running_loop()
            t = float(frame.pts * frame.time_base)
            if self._t0 is None:
                self._t0 = loop.time() - t
            delay = self._t0 + t - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        return frame

    def stop(self) -> None:
        super().stop()
        self._player._track_stopped()


class MediaPlayer:
    """Reads a file (or any FFmpeg input: ``format``/``options`` as for ``av.open``) and exposes
    ``audio`` and ``video`` tracks. Decoding runs in a worker thread; frames are paced by their
    timestamps when ``realtime`` (the default), and ``loop=True`` restarts at the end."""

    def __init__(
        self,
        file: str,
        format: str | None = None,
        options: dict[str, str] | None = None,
        *,
        loop: bool = False,
        realtime: bool = True,
    ) -> None:
        self.file = file
        self.realtime = realtime
        self._loop_file = loop
        self._container: Any = av.open(file, format=format, options=options or {})
        self._audio_stream = next(iter(self._container.streams.audio), None)
        self._video_stream = next(iter(self._container.streams.video), None)
        self.audio: MediaStreamTrack | None = (
            _PlayerTrack(self, "audio") if self._audio_stream is not None else None
        )
        self.video: MediaStreamTrack | None = (
            _PlayerTrack(self, "video") if self._video_stream is not None else None
        )
        self._thread: threading.Thread | None = None
        self._quit = threading.Event()

    def _start(self, track: _PlayerTrack) -> None:
        if self._thread is not None:
            return
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, args=(loop,), daemon=True)
        self._thread.start()

    def _track_stopped(self) -> None:
        if all(t is None or t.readyState == "ended" for t in (self.audio, self.video)):
            self._quit.set()

    def _put(self, loop: asyncio.AbstractEventLoop, track: Any, frame: Any) -> bool:
        while not self._quit.is_set():
            fut = asyncio.run_coroutine_threadsafe(track._queue.put(frame), loop)
            try:
                fut.result(timeout=0.5)
                return True
            except TimeoutError:
                fut.cancel()
            except RuntimeError:  # loop closed
                return False
        return False

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        streams = [s for s in (self._audio_stream, self._video_stream) if s is not None]
        tracks = {"audio": self.audio, "video": self.video}
        offset = 0.0
        try:
            while not self._quit.is_set():
                last = 0.0
                for frame in self._container.decode(*streams):
                    if self._quit.is_set():
                        return
                    kind = "audio" if isinstance(frame, av.AudioFrame) else "video"
                    track = tracks[kind]
                    if track is None or track.readyState == "ended":
                        continue
                    if offset and frame.pts is not None and frame.time_base is not None:
                        frame.pts += int(offset / frame.time_base)
                    if frame.pts is not None and frame.time_base is not None:
                        last = max(last, float(frame.pts * frame.time_base))
                    if not self._put(loop, track, frame):
                        return
                if not self._loop_file:
                    break
                offset = last + 0.04
                self._container.seek(0)
        except av.error.FFmpegError as exc:
            logger.warning("MediaPlayer %s: %s", self.file, exc)
        finally:
            for track in tracks.values():
                if track is not None:
                    self._put(loop, track, None)
