"""An in-process signaling channel for the examples: two linked ends, ``send`` / ``message``.

In the browser examples this is a WebSocket; here ``SignalingChannel.pair()`` returns two ends
and whatever one end sends arrives as a ``message`` event (``event.data``) on the other.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rtcpeer.events import Event, EventTarget


class SignalingChannel(EventTarget):
    def __init__(self) -> None:
        super().__init__()
        self.peer: SignalingChannel | None = None

    @classmethod
    def pair(cls) -> tuple[SignalingChannel, SignalingChannel]:
        a, b = cls(), cls()
        a.peer, b.peer = b, a
        return a, b

    def send(self, message: Any) -> None:
        peer = self.peer
        assert peer is not None
        # Delivered on a later loop iteration, like a message from the network.
        asyncio.get_running_loop().call_soon(peer.dispatchEvent, Event("message", data=message))
