"""The W3C ``RTCSessionDescription`` (webrtc-pc section 4.8.1, RTCSessionDescriptionInit).

A plain value object: ``type`` and ``sdp``. Parsing happens on demand through ``parsed()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rtcpeer.sdp.session import SessionDescription

__all__ = ["SDP_TYPES", "RTCSessionDescription"]

SDP_TYPES = ("offer", "pranswer", "answer", "rollback")
_UNSET: Any = object()


class RTCSessionDescription:
    """``RTCSessionDescription({"type": "offer", "sdp": "..."})`` or with keywords.

    ``TypeError`` when ``type`` is missing or not one of offer/pranswer/answer/rollback (the
    WebIDL enum conversion error browsers raise); ``sdp`` defaults to ``""``.
    """

    __slots__ = ("_sdp", "_type")

    def __init__(
        self,
        descriptionInitDict: Mapping[str, Any] | str | None = None,
        sdp: str = _UNSET,
        *,
        type: str = _UNSET,
    ) -> None:
        init: dict[str, Any] = {}
        if isinstance(descriptionInitDict, Mapping):
            init.update(descriptionInitDict)
        elif isinstance(descriptionInitDict, str):
            init["type"] = descriptionInitDict  # RTCSessionDescription("offer", sdp)
        elif descriptionInitDict is not None:
            raise TypeError("RTCSessionDescription: expected a dict like {'type', 'sdp'}")
        if type is not _UNSET:
            init["type"] = type
        if sdp is not _UNSET:
            init["sdp"] = sdp
        kind = init.get("type")
        if kind not in SDP_TYPES:
            raise TypeError(
                f"RTCSessionDescription: type must be one of {', '.join(SDP_TYPES)}, not {kind!r}"
            )
        text = init.get("sdp", "")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise TypeError("RTCSessionDescription: sdp must be a string")
        self._type: str = kind
        self._sdp: str = text

    @property
    def type(self) -> str:
        return self._type

    @property
    def sdp(self) -> str:
        return self._sdp

    def toJSON(self) -> dict[str, str]:
        return {"type": self._type, "sdp": self._sdp}

    def parsed(self) -> SessionDescription:
        """The parsed SDP (raises ``SDPParseError`` when malformed)."""
        return SessionDescription.parse(self._sdp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RTCSessionDescription):
            return NotImplemented
        return (self._type, self._sdp) == (other._type, other._sdp)

    def __hash__(self) -> int:
        return hash((self._type, self._sdp))

    def __repr__(self) -> str:
        return f"RTCSessionDescription(type={self._type!r}, sdp={self._sdp!r})"
