"""rtcpeer.stun: STUN message codec (RFC 8489), TURN attributes (RFC 8656), ChannelData
framing and a sans-I/O TURN client.

Public names: :class:`StunMessage`, :func:`parse`, :func:`is_stun`, :class:`ParseError`,
:class:`Method`, :class:`MessageClass`, :class:`Attr`, :func:`long_term_key`,
:func:`userhash`, :func:`new_transaction_id`.
"""

from rtcpeer.stun.attributes import (
    MAGIC_COOKIE,
    REASONS,
    AddressFamily,
    Attr,
    PasswordAlgorithm,
    is_comprehension_required,
)
from rtcpeer.stun.errors import ParseError
from rtcpeer.stun.message import (
    FINGERPRINT_XOR,
    MessageClass,
    Method,
    StunMessage,
    is_stun,
    long_term_key,
    new_transaction_id,
    parse,
    saslprep,
    userhash,
)

__all__ = [
    "FINGERPRINT_XOR",
    "MAGIC_COOKIE",
    "REASONS",
    "AddressFamily",
    "Attr",
    "MessageClass",
    "Method",
    "ParseError",
    "PasswordAlgorithm",
    "StunMessage",
    "is_comprehension_required",
    "is_stun",
    "long_term_key",
    "new_transaction_id",
    "saslprep",
    "parse",
    "userhash",
]
