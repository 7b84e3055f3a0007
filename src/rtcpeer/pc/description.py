"""Description coercion and the peer connection's event types (W3C webrtc-pc 4.7, 4.8.2).

``RTCSessionDescription`` itself lives in :mod:`rtcpeer.sdp.description`; it is re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rtcpeer.events import Event
from rtcpeer.sdp.candidate import RTCIceCandidate
from rtcpeer.sdp.description import SDP_TYPES, RTCSessionDescription

__all__ = [
    "RTCPeerConnectionIceErrorEvent",
    "RTCPeerConnectionIceEvent",
    "RTCSessionDescription",
    "SDP_TYPES",
    "coerce_description",
]


def coerce_description(value: Any) -> tuple[str | None, str]:
    """(type, sdp) from an RTCSessionDescription, any object with type/sdp, or a dict.

    ``type`` is None when absent (setLocalDescription's implicit form); an unknown type is a
    TypeError, as WebIDL enum conversion throws.
    """
    if value is None:
        return None, ""
    if isinstance(value, Mapping):
        kind = value.get("type")
        sdp = value.get("sdp")
    else:
        kind = getattr(value, "type", None)
        sdp = getattr(value, "sdp", None)
    if kind is not None and kind not in SDP_TYPES:
        raise TypeError(f"description type {kind!r} is not one of {SDP_TYPES}")
    if sdp is None:
        sdp = ""
    if not isinstance(sdp, str):
        raise TypeError("description sdp must be a string")
    return kind, sdp


class RTCPeerConnectionIceEvent(Event):
    """``icecandidate``: ``candidate`` is an RTCIceCandidate, or None when gathering ended."""

    def __init__(self, candidate: RTCIceCandidate | None, url: str | None = None) -> None:
        super().__init__("icecandidate", candidate=candidate, url=url)


class RTCPeerConnectionIceErrorEvent(Event):
    def __init__(
        self, address: str | None, port: int | None, url: str, errorCode: int, errorText: str
    ) -> None:
        super().__init__(
            "icecandidateerror",
            address=address,
            port=port,
            url=url,
            errorCode=errorCode,
            errorText=errorText,
        )
