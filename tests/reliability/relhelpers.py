"""Helpers for the reliability tests: peers wired through a :class:`DatagramRelay`, transfers.

Signaling is in-process. Every description crossing it loses its candidate lines, and every
trickled candidate is filtered: only the IPv4 loopback UDP host candidate survives, rewritten to
the relay socket that faces the receiving peer (the relay learns the sender's real address from
it). So all ICE, DTLS and SCTP traffic goes through the relay.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
from collections.abc import Callable
from typing import Any

from relay import DatagramRelay, Impairment

from rtcpeer import RTCDataChannel, RTCPeerConnection
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.sdp.errors import SDPParseError

LOOPBACK = {"includeLoopback": True}


def new_pc(**extra: Any) -> RTCPeerConnection:
    config: dict[str, Any] = dict(LOOPBACK)
    config.update(extra)
    return RTCPeerConnection(config)


def strip_candidates(sdp: str) -> str:
    lines = [
        line
        for line in sdp.splitlines()
        if not line.startswith("a=candidate:") and line != "a=end-of-candidates"
    ]
    return "\r\n".join(lines) + "\r\n"


def description_dict(desc: Any) -> dict[str, Any]:
    if isinstance(desc, dict):
        return {"type": desc["type"], "sdp": strip_candidates(desc["sdp"])}
    return {"type": desc.type, "sdp": strip_candidates(desc.sdp)}


def candidate_dict(cand: Any) -> dict[str, Any] | None:
    if cand is None:
        return None
    if isinstance(cand, dict):
        return dict(cand)
    return {
        "candidate": cand.candidate,
        "sdpMid": cand.sdpMid,
        "sdpMLineIndex": cand.sdpMLineIndex,
        "usernameFragment": cand.usernameFragment,
    }


class RelayPath:
    """Rewrites the candidates of peer ``src`` ("a" or "b") for the other peer."""

    def __init__(self, relay: DatagramRelay, src: str) -> None:
        self.relay = relay
        self.src = src
        self.dst = "b" if src == "a" else "a"

    def rewrite(self, init: dict[str, Any] | None) -> dict[str, Any] | None | bool:
        """The candidate init to deliver, None for end-of-candidates, False to drop it."""
        if init is None or not init.get("candidate"):
            return init
        try:
            cand = Candidate.from_sdp(init["candidate"])
        except SDPParseError:
            return False
        if cand.transport != "udp" or cand.type != "host" or cand.host != "127.0.0.1":
            return False
        self.relay.target[self.src] = (cand.host, cand.port)
        host, port = self.relay.facing(self.dst)
        cand.host, cand.port = host, port
        out = dict(init)
        out["candidate"] = cand.to_sdp()
        return out


async def _when_remote_set(pc: RTCPeerConnection, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while pc.remoteDescription is None and pc.signalingState != "closed":
        if loop.time() > end:
            raise TimeoutError("remote description never set")
        await asyncio.sleep(0.005)


def relay_trickle(a: RTCPeerConnection, b: RTCPeerConnection, relay: DatagramRelay) -> None:
    """Forward each side's (rewritten) candidates to the other once it has a description."""
    tasks: set[asyncio.Task[None]] = set()

    def wire(src_pc: RTCPeerConnection, dst_pc: RTCPeerConnection, path: RelayPath) -> None:
        async def forward(cand: Any) -> None:
            init = path.rewrite(candidate_dict(cand))
            if init is False:
                return
            await _when_remote_set(dst_pc)
            if dst_pc.signalingState != "closed":
                await dst_pc.addIceCandidate(init)

        def on_candidate(event: Any) -> None:
            task = asyncio.ensure_future(forward(event.candidate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        src_pc.addEventListener("icecandidate", on_candidate)

    wire(a, b, RelayPath(relay, "a"))
    wire(b, a, RelayPath(relay, "b"))


async def negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    assert offerer.localDescription is not None
    await answerer.setRemoteDescription(description_dict(offerer.localDescription))
    await answerer.setLocalDescription(await answerer.createAnswer())
    assert answerer.localDescription is not None
    await offerer.setRemoteDescription(description_dict(answerer.localDescription))


def event_future(target: Any, type: str) -> asyncio.Future[Any]:
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def done(event: Any) -> None:
        if not fut.done():
            fut.set_result(event)

    target.addEventListener(type, done)
    return fut


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.005)


async def relayed_pair(
    a_to_b: Impairment | None = None,
    b_to_a: Impairment | None = None,
    seed: int = 1,
    timeout: float = 30.0,
    a_config: dict[str, Any] | None = None,
) -> tuple[DatagramRelay, RTCPeerConnection, RTCPeerConnection, RTCDataChannel, RTCDataChannel]:
    """Two peers connected through a relay, with a reliable ordered channel open.
    ``a_config``: extra configuration members for A (B always has the defaults)."""
    relay = await DatagramRelay(a_to_b, b_to_a, seed=seed).start()
    a, b = new_pc(**(a_config or {})), new_pc()
    relay_trickle(a, b, relay)
    remote = event_future(b, "datachannel")
    dc = a.createDataChannel("bulk")
    opened = event_future(dc, "open")
    try:
        await negotiate(a, b)
        await asyncio.wait_for(opened, timeout)
        event = await asyncio.wait_for(remote, timeout)
    except BaseException:
        await close_all(a, b)
        relay.close()
        raise
    return relay, a, b, dc, event.channel


async def close_all(*pcs: RTCPeerConnection) -> None:
    for pc in pcs:
        task = pc.close()
        if task is not None:
            await task


# ---------------------------------------------------------------------------- transfers

HEADER = struct.Struct("!I")


class Receiver:
    """Checks sequence numbers, counts bytes and hashes what a channel receives."""

    def __init__(self, channel: RTCDataChannel, expected_messages: int) -> None:
        self.expected = expected_messages
        self.next_seq = 0
        self.bytes = 0
        self.sha = hashlib.sha256()
        self.errors: list[str] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        channel.addEventListener("message", self._on_message)

    def _on_message(self, event: Any) -> None:
        data = event.data
        if not isinstance(data, bytes) or len(data) < HEADER.size:
            self.errors.append(f"unexpected message {type(data).__name__} len {len(data)}")
            return
        (seq,) = HEADER.unpack_from(data)
        if seq != self.next_seq:
            self.errors.append(f"got seq {seq}, expected {self.next_seq}")
        self.next_seq = seq + 1
        self.bytes += len(data)
        self.sha.update(data)
        if self.next_seq >= self.expected and not self.done.done():
            self.done.set_result(None)


async def send_stream(
    channel: RTCDataChannel,
    total: int,
    message_size: int = 16384,
    high_water: int = 1 << 20,
    seed: int = 7,
) -> tuple[int, str]:
    """Send ``total`` bytes in numbered messages with flow control; returns (count, sha256)."""
    rnd = random_bytes(message_size, seed)
    sha = hashlib.sha256()
    count = (total + message_size - 1) // message_size
    low = asyncio.Event()
    channel.bufferedAmountLowThreshold = high_water // 2
    channel.addEventListener("bufferedamountlow", lambda e: low.set())
    for seq in range(count):
        size = min(message_size, total - seq * message_size)
        msg = HEADER.pack(seq) + rnd[: size - HEADER.size]
        sha.update(msg)
        while channel.bufferedAmount > high_water:
            low.clear()
            await low.wait()
        channel.send(msg)
    return count, sha.hexdigest()


def random_bytes(n: int, seed: int) -> bytes:
    out = bytearray()
    block = hashlib.sha256(seed.to_bytes(8, "big")).digest()
    while len(out) < n:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:n])


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


class FakeSignaler:
    """One end of an in-process signaling channel for PerfectNegotiation, rewriting candidates
    so they point at the relay (descriptions lose theirs). Delivery is asynchronous and in
    order, like a WebSocket."""

    def __init__(self, relay: DatagramRelay, side: str) -> None:
        self.path = RelayPath(relay, side)
        self.other: FakeSignaler | None = None
        self._listeners: list[Callable[[Any], Any]] = []
        self.sent = 0

    @staticmethod
    def pair(relay: DatagramRelay) -> tuple[FakeSignaler, FakeSignaler]:
        a, b = FakeSignaler(relay, "a"), FakeSignaler(relay, "b")
        a.other, b.other = b, a
        return a, b

    def addEventListener(self, type: str, fn: Callable[[Any], Any]) -> None:
        if type == "message":
            self._listeners.append(fn)

    def removeEventListener(self, type: str, fn: Callable[[Any], Any]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    async def send(self, message: dict[str, Any]) -> None:
        msg = dict(message)
        if msg.get("description") is not None:
            msg["description"] = description_dict(msg["description"])
        if "candidate" in msg:
            init = self.path.rewrite(candidate_dict(msg["candidate"]))
            if init is False:
                return
            msg["candidate"] = init
        other = self.other
        assert other is not None
        self.sent += 1
        asyncio.get_running_loop().call_soon(other._deliver, msg)

    def _deliver(self, msg: dict[str, Any]) -> None:
        event = _MessageEvent(msg)
        for fn in list(self._listeners):
            fn(event)


class _MessageEvent:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
