"""Helpers of :mod:`rtcpeer.peerconnection`: session descriptions, events, stats."""
