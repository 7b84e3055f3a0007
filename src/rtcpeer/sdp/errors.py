"""The one parse error of :mod:`rtcpeer.sdp` (RFC 8866 grammar violations, RFC 8839 candidates)."""

from __future__ import annotations


class SDPParseError(ValueError):
    """Malformed SDP or candidate text.

    ``line_number`` is 1-based (0 when the text was not part of a description, e.g. a lone
    candidate string) and ``line`` is the offending line without its line ending.
    """

    def __init__(self, reason: str, line_number: int = 0, line: str = "") -> None:
        self.reason = reason
        self.line_number = line_number
        self.line = line
        if line_number:
            message = f"line {line_number}: {reason}: {line!r}"
        else:
            message = f"{reason}: {line!r}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[SDPParseError], tuple[str, int, str]]:
        return (SDPParseError, (self.reason, self.line_number, self.line))
