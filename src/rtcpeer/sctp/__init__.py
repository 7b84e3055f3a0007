"""rtcpeer.sctp: SCTP over DTLS (RFC 8261) for WebRTC data channels (RFC 8831, RFC 8832).

- :mod:`rtcpeer.sctp.chunks`: packet and chunk codec (RFC 9260, 3758, 6525);
- :mod:`rtcpeer.sctp.association`: the sans-I/O association (protocol parts in the mixin
  modules :mod:`~rtcpeer.sctp.handshake`, :mod:`~rtcpeer.sctp.sender`,
  :mod:`~rtcpeer.sctp.receiver`, :mod:`~rtcpeer.sctp.reconfig`; events in
  :mod:`~rtcpeer.sctp.events`);
- :mod:`rtcpeer.sctp.dcep`: DATA_CHANNEL_OPEN / ACK and PPIDs;
- :mod:`rtcpeer.sctp.channels`: sans-I/O data channels over an association.

:class:`ParseError` is the only exception the parsers in this package raise.
"""

from __future__ import annotations

from rtcpeer.sctp.association import Association, AssociationState
from rtcpeer.sctp.channels import DataChannelCore, MessageTooBig
from rtcpeer.sctp.chunks import ParseError

__all__ = ["Association", "AssociationState", "DataChannelCore", "MessageTooBig", "ParseError"]
