"""rtcpeer.stun."""
