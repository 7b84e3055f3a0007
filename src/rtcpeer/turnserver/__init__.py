"""rtcpeer.turnserver."""
