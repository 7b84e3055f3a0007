"""rtcpeer.signaling."""
