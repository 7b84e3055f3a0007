"""rtcpeer.rtp: RTP/RTCP codecs, SRTP, payload formats, jitter buffer and the sans-I/O RTP
sender and receiver cores (RFC 3550, 3711, 4585, 4588, 5104, 5764, 6184, 7587, 7741, 8285).

Only the parse error is imported here; the submodules are imported where used (``srtp`` and
``codecs.encoders`` need the ``media`` extra).
"""

from rtcpeer.rtp.packet import ParseError

__all__ = ["ParseError"]
