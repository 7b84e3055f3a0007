"""A small deployment in the NAT lab: signaling server and TURN server on the public side.

rtcpeer's signaling server (aiohttp) and the embedded TURN server share a REST secret in
"pub"; two peers behind symmetric NATs join a room over WebSocket (through their NATs),
take ``iceServers`` (with minted TURN credentials) from the server's welcome, negotiate with
``PerfectNegotiation`` using the roles the server assigned, and connect through the relay.
This is what ``rtcpeer serve --turn embedded`` gives users, proven across real NATs.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from peerlab import PUB, STUN_SERVERS, NatLab, NsLoop, available, wait_until

from rtcpeer import RTCPeerConnection
from rtcpeer.signaling.client import SignalingChannel
from rtcpeer.signaling.negotiation import PerfectNegotiation
from rtcpeer.signaling.server import ServerConfig, run_server
from rtcpeer.turnserver import TurnServer

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(not available(), reason="needs root, iproute2 and iptables"),
    pytest.mark.timeout(60),
]

SIGNALING_PORT = 8080
TURN_PORT = 3480
SECRET = "netlab-rest-secret"


class RoomPeer:
    """One host: a SignalingChannel, an RTCPeerConnection and PerfectNegotiation."""

    def __init__(self, lab: NatLab, ns: str) -> None:
        self.ns_loop = NsLoop(lab, ns)
        self.received: list[Any] = []
        self.channel: Any = None
        self.pc: Any = None
        self.signaler: SignalingChannel | None = None
        self.negotiation: PerfectNegotiation | None = None

    async def join(self, url: str, room: str) -> None:
        async def setup() -> None:
            signaler = SignalingChannel(url, room)
            await signaler.connect()
            self.signaler = signaler
            pc = RTCPeerConnection({"iceServers": signaler.ice_servers})
            self.pc = pc
            pc.addEventListener("datachannel", lambda event: self._wire(event.channel))
            self.negotiation = PerfectNegotiation(pc, signaler)

        await self.ns_loop.call(setup)

    def _wire(self, channel: Any) -> None:
        self.channel = channel
        channel.addEventListener("message", lambda event: self.received.append(event.data))

    async def open_channel(self) -> None:
        await self.ns_loop.call(lambda: self._wire(self.pc.createDataChannel("room")))

    @property
    def channel_open(self) -> bool:
        return self.channel is not None and self.channel.readyState == "open"

    async def close(self) -> None:
        async def shut() -> None:
            if self.negotiation is not None:
                self.negotiation.close()
            if self.pc is not None:
                task = self.pc.close()
                if task is not None:
                    await task
            if self.signaler is not None:
                await self.signaler.close()

        with contextlib.suppress(Exception):
            await self.ns_loop.call(shut)
        await self.ns_loop.stop()


@contextlib.asynccontextmanager
async def deployment() -> AsyncIterator[tuple[str, RoomPeer, RoomPeer]]:
    lab = NatLab("symmetric", "symmetric")
    pub: NsLoop | None = None
    turn: TurnServer | None = None
    handle: Any = None
    made: list[RoomPeer] = []
    try:
        lab.up()
        pub = NsLoop(lab, "pub")
        turn = TurnServer(
            realm="netlab", auth_secret=SECRET, listen=(PUB, TURN_PORT), relay_address=PUB
        )
        await pub.call(turn.start)
        config = ServerConfig(
            ice_servers=STUN_SERVERS,
            turn_secret=SECRET,
            turn_urls=[f"turn:{PUB}:{TURN_PORT}?transport=udp"],
        )
        handle = await pub.call(run_server, PUB, SIGNALING_PORT, config)
        a = RoomPeer(lab, "hA")
        made.append(a)
        b = RoomPeer(lab, "hB")
        made.append(b)
        yield handle.url, a, b
    finally:
        for peer in reversed(made):
            await peer.close()
        if pub is not None:
            with contextlib.suppress(Exception):
                if handle is not None:
                    await pub.call(handle.close)
                if turn is not None:
                    await pub.call(turn.close)
            await pub.stop()
        lab.down()


async def test_room_behind_symmetric_nats_connects_through_minted_turn() -> None:
    async with deployment() as (url, a, b):
        t0 = time.monotonic()
        await a.join(url, "nat-room")
        await b.join(url, "nat-room")
        # The server assigned the roles: the first peer in the room is impolite.
        assert a.negotiation is not None and b.negotiation is not None
        assert not a.negotiation.polite and b.negotiation.polite
        # It handed out TURN REST credentials for its TURN server.
        assert a.signaler is not None
        turn = [s for s in a.signaler.ice_servers if "username" in s]
        assert turn and turn[0]["urls"] == [f"turn:{PUB}:{TURN_PORT}?transport=udp"]
        await a.open_channel()
        await wait_until(lambda: a.channel_open and b.channel_open, 15.0, "channel open")
        print(
            f"\n[netlab] join + connect through signaling server and TURN: "
            f"{(time.monotonic() - t0) * 1000:.0f} ms"
        )
        for i in range(10):
            a.ns_loop.post(a.channel.send, f"a{i}")
            b.ns_loop.post(b.channel.send, f"b{i}")
        await wait_until(lambda: len(a.received) == 10 and len(b.received) == 10, 5.0, "chat")
        assert b.received == [f"a{i}" for i in range(10)]
        assert a.received == [f"b{i}" for i in range(10)]
        report = await a.ns_loop.call(a.pc.getStats)
        transport = next(s for s in report.values() if s["type"] == "transport")
        pair = report[transport["selectedCandidatePairId"]]
        types = {
            report[pair["localCandidateId"]]["candidateType"],
            report[pair["remoteCandidateId"]]["candidateType"],
        }
        assert "relay" in types
        assert not a.negotiation.errors and not b.negotiation.errors
