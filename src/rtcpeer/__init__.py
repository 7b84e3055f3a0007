"""rtcpeer: a WebRTC stack for Python with the W3C API (RTCPeerConnection, RTCDataChannel, ...)."""

from __future__ import annotations

from rtcpeer.errors import (
    DOMException,
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    NotSupportedError,
    OperationError,
    RTCError,
)

__version__ = "0.1.0"

__all__ = [
    "DOMException",
    "InvalidAccessError",
    "InvalidModificationError",
    "InvalidStateError",
    "NotSupportedError",
    "OperationError",
    "RTCError",
    "__version__",
]
