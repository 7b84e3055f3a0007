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
    """W3C RTCError: an OperationError with an ``errorDetail`` (e.g. "dtls-failure")."""

    name = "OperationError"

    def __init__(self, message: str = "", errorDetail: str = "") -> None:
        super().__init__(message)
        self.errorDetail = errorDetail


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
