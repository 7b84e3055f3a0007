"""W3C / WebIDL exception names (WebIDL "DOMException" names, W3C webrtc-pc section 4.x).

Browsers raise a DOMException whose ``name`` is one of these; rtcpeer raises one class per name so
that ``except InvalidStateError`` reads like the JavaScript it was ported from. Every class keeps
the W3C ``name`` attribute so code that inspects ``err.name`` keeps working too.
"""

from __future__ import annotations


class DOMException(Exception):
    """Base of the W3C error classes; ``name`` is the WebIDL error name."""

    name = "Error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.name}: {self.message}" if self.message else self.name


class InvalidStateError(DOMException):
    name = "InvalidStateError"


class InvalidAccessError(DOMException):
    name = "InvalidAccessError"


class InvalidModificationError(DOMException):
    name = "InvalidModificationError"


class OperationError(DOMException):
    name = "OperationError"


class NotSupportedError(DOMException):
    name = "NotSupportedError"


class SyntaxError_(DOMException):
    """WebIDL SyntaxError (named with a trailing underscore so it does not shadow the builtin)."""

    name = "SyntaxError"


class InvalidCharacterError(DOMException):
    name = "InvalidCharacterError"


class NetworkError(DOMException):
    name = "NetworkError"


class RTCError(OperationError):
    """W3C RTCError (webrtc-pc 11.1): an OperationError carrying an ``errorDetail``
    ("dtls-failure", "sdp-syntax-error", "sctp-failure", ...) and the optional detail fields of
    RTCErrorInit. Fields that do not apply are None, as in the browser."""

    name = "OperationError"

    def __init__(
        self,
        message: str = "",
        errorDetail: str = "",
        *,
        sdpLineNumber: int | None = None,
        sctpCauseCode: int | None = None,
        receivedAlert: int | None = None,
        sentAlert: int | None = None,
        httpRequestStatusCode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.errorDetail = errorDetail
        self.sdpLineNumber = sdpLineNumber
        self.sctpCauseCode = sctpCauseCode
        self.receivedAlert = receivedAlert
        self.sentAlert = sentAlert
        self.httpRequestStatusCode = httpRequestStatusCode


# TypeError and RangeError are the Python builtins TypeError and ValueError respectively:
# rtcpeer raises the builtins so ordinary Python code catches them.

__all__ = [
    "DOMException",
    "InvalidAccessError",
    "InvalidCharacterError",
    "InvalidModificationError",
    "InvalidStateError",
    "NetworkError",
    "NotSupportedError",
    "OperationError",
    "RTCError",
    "SyntaxError_",
]
