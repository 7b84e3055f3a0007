"""rtcpeer.sctp."""
