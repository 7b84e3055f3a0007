"""rtcpeer.sdp: SDP (RFC 8866) with the WebRTC attributes, and ICE candidate lines (RFC 8839).

See docs/internals.md ("rtcpeer.sdp") for the contract.
"""

from __future__ import annotations

from rtcpeer.sdp.attributes import (
    DIRECTIONS,
    Attribute,
    ExtMap,
    Rid,
    RtpMap,
    Simulcast,
    Ssrc,
    parse_fmtp_params,
)
from rtcpeer.sdp.candidate import Candidate, RTCIceCandidate
from rtcpeer.sdp.description import SDP_TYPES, RTCSessionDescription
from rtcpeer.sdp.errors import SDPParseError
from rtcpeer.sdp.session import (
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

__all__ = [
    "DIRECTIONS",
    "SDP_TYPES",
    "Attribute",
    "Bandwidth",
    "Candidate",
    "Connection",
    "ExtMap",
    "MediaDescription",
    "Origin",
    "RTCIceCandidate",
    "RTCSessionDescription",
    "Rid",
    "RtpMap",
    "SDPParseError",
    "SessionDescription",
    "Simulcast",
    "Ssrc",
    "Timing",
    "parse_fmtp_params",
]
