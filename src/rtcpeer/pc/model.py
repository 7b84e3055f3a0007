"""The peer connection's description records and small helpers (JSEP bookkeeping)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from rtcpeer.sdp.candidate import RTCIceCandidate
from rtcpeer.sdp.jsep import LocalParams, LocalSection, RemoteDescription

__all__ = ["LocalDesc", "RemoteDesc", "candidate_init", "ice_string", "strip_candidates"]

_ICE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


def ice_string(n: int) -> str:
    """Random ICE characters (RFC 8839 ice-char) for ufrag/pwd."""
    return "".join(secrets.choice(_ICE_CHARS) for _ in range(n))


def strip_candidates(sdp: str) -> str:
    """SDP without candidate lines and with LF endings, to compare descriptions."""
    keep = []
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("a=candidate:") or line == "a=end-of-candidates" or not line:
            continue
        keep.append(line)
    return "\n".join(keep)


class LocalDesc:
    """A local description: the model; candidates are added when it is rendered."""

    __slots__ = ("params", "sections", "session_version", "type")

    def __init__(
        self, type: str, sections: list[LocalSection], params: LocalParams, version: int
    ) -> None:
        self.type = type
        self.sections = sections
        self.params = params
        self.session_version = version


class RemoteDesc:
    """A remote description as set, plus candidates added later with addIceCandidate."""

    __slots__ = ("added", "parsed", "sdp", "type")

    def __init__(self, type: str, sdp: str, parsed: RemoteDescription) -> None:
        self.type = type
        self.sdp = sdp
        self.parsed = parsed
        self.added: list[tuple[int, str]] = []  # (m-line index, "a=..." line)

    def render(self) -> str:
        if not self.added:
            return self.sdp
        lines = self.sdp.replace("\r\n", "\n").rstrip("\n").split("\n")
        out: list[str] = []
        index = -1
        pending: dict[int, list[str]] = {}
        for i, line in self.added:
            pending.setdefault(i, []).append(line)

        def flush() -> None:
            if index >= 0:
                out.extend(pending.pop(index, []))

        for line in lines:
            if line.startswith("m="):
                flush()
                index += 1
            out.append(line)
        flush()
        return "\r\n".join(out) + "\r\n"


def candidate_init(candidate: Any) -> dict[str, Any]:
    """RTCIceCandidateInit members from what addIceCandidate() was given (None = end)."""
    if candidate is None:
        return {"candidate": "", "sdpMid": None, "sdpMLineIndex": None, "usernameFragment": None}
    if isinstance(candidate, RTCIceCandidate):
        return {
            "candidate": candidate.candidate,
            "sdpMid": candidate.sdpMid,
            "sdpMLineIndex": candidate.sdpMLineIndex,
            "usernameFragment": candidate.usernameFragment,
        }
    if isinstance(candidate, Mapping):
        text = candidate.get("candidate") or ""
        if not isinstance(text, str):
            raise TypeError("addIceCandidate: candidate must be a string")
        return {
            "candidate": text,
            "sdpMid": candidate.get("sdpMid"),
            "sdpMLineIndex": candidate.get("sdpMLineIndex"),
            "usernameFragment": candidate.get("usernameFragment"),
        }
    raise TypeError(
        f"addIceCandidate takes an RTCIceCandidate, a dict or None, not {type(candidate)}"
    )
