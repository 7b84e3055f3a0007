"""rtcpeer.aio."""
