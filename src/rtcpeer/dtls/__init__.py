"""rtcpeer.dtls."""
