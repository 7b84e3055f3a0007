"""rtcpeer: a WebRTC stack for Python with the W3C API (RTCPeerConnection, RTCDataChannel, ...)."""

from __future__ import annotations

from rtcpeer.configuration import RTCConfiguration, RTCIceServer
from rtcpeer.datachannel import RTCDataChannel
from rtcpeer.dtls.certificate import RTCCertificate
from rtcpeer.errors import (
    DOMException,
    InvalidAccessError,
    InvalidModificationError,
    InvalidStateError,
    NotSupportedError,
    OperationError,
    RTCError,
)
from rtcpeer.media.track import MediaStream, MediaStreamTrack
from rtcpeer.pc.description import RTCPeerConnectionIceEvent, RTCSessionDescription
from rtcpeer.pc.transceivers import (
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCTrackEvent,
)
from rtcpeer.peerconnection import RTCPeerConnection
from rtcpeer.sdp.candidate import RTCIceCandidate

__version__ = "0.1.0"

__all__ = [
    "DOMException",
    "InvalidAccessError",
    "InvalidModificationError",
    "InvalidStateError",
    "MediaStream",
    "MediaStreamTrack",
    "NotSupportedError",
    "OperationError",
    "RTCCertificate",
    "RTCConfiguration",
    "RTCDataChannel",
    "RTCError",
    "RTCIceCandidate",
    "RTCIceServer",
    "RTCPeerConnection",
    "RTCPeerConnectionIceEvent",
    "RTCRtpReceiver",
    "RTCRtpSender",
    "RTCRtpTransceiver",
    "RTCTrackEvent",
    "RTCSessionDescription",
    "__version__",
]
