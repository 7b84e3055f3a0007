"""MediaStreamTrack and MediaStream (W3C Media Capture and Streams sections 4.2, 4.3) for Python.

``kind``, ``id``, ``label``, ``enabled``, ``muted``, ``readyState``, ``stop()`` and the
``ended``/``mute``/``unmute`` events keep their W3C names. Frames are pulled with
``await track.recv()``, which returns a PyAV ``VideoFrame`` or ``AudioFrame`` with ``pts`` and
``time_base`` set; a disabled track yields black video or silent audio (section 4.3.1).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from rtcpeer.errors import InvalidStateError
from rtcpeer.events import Event, EventTarget

__all__ = ["MediaStream", "MediaStreamError", "MediaStreamTrack", "RemoteStreamTrack"]


class MediaStreamError(InvalidStateError):
    """``recv()`` on a track that has ended."""


class MediaStreamTrack(EventTarget):
    """Base class: subclasses implement ``async _recv()`` returning the next frame."""

    kind: str = "video"

    onended: Any = None
    onmute: Any = None
    onunmute: Any = None

    def __init__(self, kind: str | None = None, id: str | None = None, label: str = "") -> None:
        super().__init__()
        if kind is not None:
            if kind not in ("audio", "video"):
                raise ValueError(f"kind must be 'audio' or 'video', not {kind!r}")
            self.kind = kind
        self.id = id or str(uuid.uuid4())
        self.label = label
        self.enabled = True
        self._muted = False
        self._ready_state = "live"

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def readyState(self) -> str:
        return self._ready_state

    def stop(self) -> None:
        """W3C stop(): the track ends without firing "ended" (section 4.3.1.1)."""
        self._ready_state = "ended"

    def _set_muted(self, muted: bool) -> None:
        if muted != self._muted and self._ready_state == "live":
            self._muted = muted
            self.dispatchEvent(Event("mute" if muted else "unmute"))

    def _end(self) -> None:
        """The source ended (remote BYE, end of file): fires "ended" once."""
        if self._ready_state != "ended":
            self._ready_state = "ended"
            self.dispatchEvent(Event("ended"))

    async def recv(self) -> Any:
        if self._ready_state != "live":
            raise MediaStreamError(f"{self.kind} track {self.id} has ended")
        frame = await self._recv()
        if not self.enabled:
            frame = _blank(frame)
        return frame

    async def _recv(self) -> Any:
        raise NotImplementedError

    def getSettings(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.id} {self._ready_state}>"


def _blank(frame: Any) -> Any:
    import av

    if isinstance(frame, av.VideoFrame):
        blank: Any = av.VideoFrame(frame.width, frame.height, "yuv420p")
        for i, plane in enumerate(blank.planes):
            plane.update(bytes((16 if i == 0 else 128,)) * plane.buffer_size)
    else:
        blank = av.AudioFrame(
            format=frame.format.name, layout=frame.layout.name, samples=frame.samples
        )
        for plane in blank.planes:
            plane.update(bytes(plane.buffer_size))
        blank.sample_rate = frame.sample_rate
    blank.pts = frame.pts
    blank.time_base = frame.time_base
    return blank


class RemoteStreamTrack(MediaStreamTrack):
    """A track fed by an RTP receiver: the transport pushes decoded frames in.

    It starts muted (W3C); ``RtpMediaReceiver`` unmutes it with the first decoded frame.

    The queue is bounded; when the application reads too slowly the oldest frames are dropped
    (counted in ``frames_dropped``) rather than letting latency grow.
    """

    def __init__(
        self, kind: str, id: str | None = None, max_queue: int = 30, *, muted: bool = True
    ) -> None:
        super().__init__(kind, id)
        # webrtc-pc 5.3 (create an RTCRtpReceiver): the track starts muted; the receiver
        # unmutes it when media arrives
        self._muted = muted
        self._queue: asyncio.Queue[Any] = asyncio.Queue(max_queue)
        self.frames_dropped = 0

    def _push(self, frame: Any) -> None:
        if self._ready_state != "live":
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.frames_dropped += 1
        self._queue.put_nowait(frame)

    def _end(self) -> None:
        super()._end()
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)  # wake a pending recv()

    def stop(self) -> None:
        super().stop()
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def _recv(self) -> Any:
        frame = await self._queue.get()
        if frame is None:
            raise MediaStreamError(f"{self.kind} track {self.id} has ended")
        return frame


class MediaStream(EventTarget):
    """W3C MediaStream (section 4.2): an id and a set of tracks; ``addtrack``/``removetrack``
    events fire when the peer connection changes the set (not for the user's own calls)."""

    onaddtrack: Any = None
    onremovetrack: Any = None

    def __init__(
        self, tracks: MediaStream | list[MediaStreamTrack] | None = None, id: str | None = None
    ) -> None:
        super().__init__()
        self.id = id or str(uuid.uuid4())
        self._tracks: list[MediaStreamTrack] = []
        source = tracks.getTracks() if isinstance(tracks, MediaStream) else tracks or []
        for track in source:
            self.addTrack(track)

    @property
    def active(self) -> bool:
        return any(t.readyState == "live" for t in self._tracks)

    def getTracks(self) -> list[MediaStreamTrack]:
        return list(self._tracks)

    def getAudioTracks(self) -> list[MediaStreamTrack]:
        return [t for t in self._tracks if t.kind == "audio"]

    def getVideoTracks(self) -> list[MediaStreamTrack]:
        return [t for t in self._tracks if t.kind == "video"]

    def getTrackById(self, track_id: str) -> MediaStreamTrack | None:
        return next((t for t in self._tracks if t.id == track_id), None)

    def addTrack(self, track: MediaStreamTrack) -> None:
        if track not in self._tracks:
            self._tracks.append(track)

    def removeTrack(self, track: MediaStreamTrack) -> None:
        if track in self._tracks:
            self._tracks.remove(track)

    def _add_remote_track(self, track: MediaStreamTrack) -> None:
        """The peer connection added a remote track (msid): fires "addtrack"."""
        if track not in self._tracks:
            self._tracks.append(track)
            self.dispatchEvent(Event("addtrack", track=track))

    def _remove_remote_track(self, track: MediaStreamTrack) -> None:
        if track in self._tracks:
            self._tracks.remove(track)
            self.dispatchEvent(Event("removetrack", track=track))

    def __repr__(self) -> str:
        return f"<MediaStream {self.id} {len(self._tracks)} tracks>"
