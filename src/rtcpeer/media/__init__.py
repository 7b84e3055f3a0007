"""Media tracks, sources and sinks (W3C Media Capture and Streams names).

``MediaStreamTrack`` needs nothing beyond the core install; sources, sinks and the RTP media
pipeline need the ``media`` extra (PyAV) and are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from rtcpeer.media.track import (
    MediaStream,
    MediaStreamError,
    MediaStreamTrack,
    RemoteStreamTrack,
)

__all__ = [
    "AudioToneTrack",
    "FrameCallbackSink",
    "MediaPlayer",
    "MediaRecorder",
    "MediaSink",
    "MediaStream",
    "MediaStreamError",
    "MediaStreamTrack",
    "NullSink",
    "RemoteStreamTrack",
    "RtpMediaReceiver",
    "RtpMediaSender",
    "VideoTestTrack",
]

_LAZY = {
    "AudioToneTrack": "rtcpeer.media.sources",
    "VideoTestTrack": "rtcpeer.media.sources",
    "MediaPlayer": "rtcpeer.media.sources",
    "MediaRecorder": "rtcpeer.media.sinks",
    "MediaSink": "rtcpeer.media.sinks",
    "NullSink": "rtcpeer.media.sinks",
    "FrameCallbackSink": "rtcpeer.media.sinks",
    "RtpMediaSender": "rtcpeer.media.pipeline",
    "RtpMediaReceiver": "rtcpeer.media.pipeline",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rtcpeer.media' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
