"""The one exception type the STUN parsers raise."""


class ParseError(ValueError):
    """Malformed STUN message, attribute value or ChannelData frame."""
