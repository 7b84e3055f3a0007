"""One small adapter per implementation (rtcpeer, aiortc) so every scenario is written once.

Only what the scenarios need: make a peer connection with loopback host candidates and no
STUN/TURN, open a data channel, exchange a complete (non-trickle) offer and answer, hook the
"datachannel", "open", "message" and "bufferedamountlow" events, close. Both sides keep only
their 127.0.0.1 candidates in what they signal, so every ICE check and every byte stays on the
loopback interface.

Each adapter imports its implementation lazily: a worker process imports only the one it runs.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from typing import Any

Json = dict[str, Any]

_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) ")


def loopback_only(sdp: str) -> str:
    """Drop every a=candidate line whose address is not 127.0.0.1."""
    out = []
    for line in sdp.split("\r\n"):
        m = _CANDIDATE.match(line)
        if m is not None and m.group(1) != "127.0.0.1":
            continue
        out.append(line)
    return "\r\n".join(out)


class Impl:
    """The interface each implementation provides (W3C-shaped, as both libraries are)."""

    name = ""

    def version(self) -> str:
        raise NotImplementedError

    def new_pc(self) -> Any:
        raise NotImplementedError

    def create_channel(self, pc: Any, label: str) -> Any:
        raise NotImplementedError

    def on_datachannel(self, pc: Any, cb: Callable[[Any], None]) -> None:
        raise NotImplementedError

    def on_open(self, dc: Any, cb: Callable[[], None]) -> None:
        raise NotImplementedError

    def on_message(self, dc: Any, cb: Callable[[Any], None]) -> None:
        """``cb(data)`` for each message (str or bytes)."""
        raise NotImplementedError

    def on_buffered_amount_low(self, dc: Any, cb: Callable[[], None]) -> None:
        raise NotImplementedError

    async def offer(self, pc: Any) -> Json:
        """setLocalDescription(createOffer()), gathering complete: {"type", "sdp"}."""
        raise NotImplementedError

    async def answer(self, pc: Any, offer: Json) -> Json:
        raise NotImplementedError

    async def accept(self, pc: Any, answer: Json) -> None:
        raise NotImplementedError

    async def close(self, pc: Any) -> None:
        raise NotImplementedError

    async def wait_open(self, dc: Any) -> None:
        if dc.readyState == "open":
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def opened() -> None:
            if not fut.done():
                fut.set_result(None)

        self.on_open(dc, opened)
        await fut

    async def connect_pair(self) -> tuple[Any, Any, Any, Any]:
        """Two peer connections in this process, a channel open on both sides."""
        loop = asyncio.get_running_loop()
        a, b = self.new_pc(), self.new_pc()
        remote: asyncio.Future[Any] = loop.create_future()

        def on_channel(ch: Any) -> None:
            if not remote.done():
                remote.set_result(ch)

        self.on_datachannel(b, on_channel)
        dc = self.create_channel(a, "bench")
        offer = await self.offer(a)
        answer = await self.answer(b, offer)
        await self.accept(a, answer)
        await self.wait_open(dc)
        other = await remote
        await self.wait_open(other)
        return a, b, dc, other


class RtcpeerImpl(Impl):
    name = "rtcpeer"

    def __init__(self) -> None:
        import rtcpeer

        self._mod = rtcpeer

    def version(self) -> str:
        return str(getattr(self._mod, "__version__", "dev"))

    def new_pc(self) -> Any:
        return self._mod.RTCPeerConnection({"iceServers": [], "includeLoopback": True})

    def create_channel(self, pc: Any, label: str) -> Any:
        return pc.createDataChannel(label)

    def on_datachannel(self, pc: Any, cb: Callable[[Any], None]) -> None:
        pc.addEventListener("datachannel", lambda ev: cb(ev.channel))

    def on_open(self, dc: Any, cb: Callable[[], None]) -> None:
        dc.addEventListener("open", lambda ev: cb())

    def on_message(self, dc: Any, cb: Callable[[Any], None]) -> None:
        dc.addEventListener("message", lambda ev: cb(ev.data))

    def on_buffered_amount_low(self, dc: Any, cb: Callable[[], None]) -> None:
        dc.addEventListener("bufferedamountlow", lambda ev: cb())

    def _signal(self, sdp: str) -> str:
        sdp = loopback_only(sdp)
        if os.environ.get("BENCH_RTCPEER_MTU1200"):
            # Hide rtcpeer's same-host packet-size extension: 1,200-byte SCTP packets, as on
            # any network path (python -m bench --rtcpeer-mtu1200).
            sdp = "\r\n".join(
                ln for ln in sdp.split("\r\n") if not ln.startswith("a=x-rtcpeer-max-packet")
            )
        return sdp

    async def _gathered(self, pc: Any) -> Json:
        if pc.iceGatheringState != "complete":
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def changed(ev: Any) -> None:
                if pc.iceGatheringState == "complete" and not done.done():
                    done.set_result(None)

            pc.addEventListener("icegatheringstatechange", changed)
            if pc.iceGatheringState != "complete":
                await done
        desc = pc.localDescription
        return {"type": desc.type, "sdp": self._signal(desc.sdp)}

    async def offer(self, pc: Any) -> Json:
        await pc.setLocalDescription(await pc.createOffer())
        return await self._gathered(pc)

    async def answer(self, pc: Any, offer: Json) -> Json:
        await pc.setRemoteDescription(offer)
        await pc.setLocalDescription(await pc.createAnswer())
        return await self._gathered(pc)

    async def accept(self, pc: Any, answer: Json) -> None:
        await pc.setRemoteDescription(answer)

    async def close(self, pc: Any) -> None:
        task = pc.close()
        if task is not None:
            await task


class AiortcImpl(Impl):
    name = "aiortc"

    def __init__(self) -> None:
        import aioice.ice
        import aiortc

        # aioice never gathers 127.0.0.1 (its host-address helper skips loopback), and aiortc
        # falls back to a public STUN server when iceServers is empty. For a loopback benchmark
        # with no STUN/TURN the bench makes it gather 127.0.0.1 only (the same address rtcpeer
        # signals here) by replacing that module-level helper.
        def loopback_addresses(use_ipv4: bool = True, use_ipv6: bool = False) -> list[str]:
            return ["127.0.0.1"]

        aioice.ice.get_host_addresses = loopback_addresses  # type: ignore[assignment]
        self._mod = aiortc

    def version(self) -> str:
        return str(self._mod.__version__)

    def new_pc(self) -> Any:
        a = self._mod
        # an RTCConfiguration with an explicit empty server list: no default STUN server.
        return a.RTCPeerConnection(a.RTCConfiguration(iceServers=[]))

    def create_channel(self, pc: Any, label: str) -> Any:
        return pc.createDataChannel(label)

    def on_datachannel(self, pc: Any, cb: Callable[[Any], None]) -> None:
        pc.on("datachannel", cb)

    def on_open(self, dc: Any, cb: Callable[[], None]) -> None:
        dc.on("open", cb)

    def on_message(self, dc: Any, cb: Callable[[Any], None]) -> None:
        dc.on("message", cb)

    def on_buffered_amount_low(self, dc: Any, cb: Callable[[], None]) -> None:
        dc.on("bufferedamountlow", cb)

    def _desc(self, pc: Any) -> Json:
        desc = pc.localDescription
        return {"type": desc.type, "sdp": loopback_only(desc.sdp)}

    def _session(self, d: Json) -> Any:
        return self._mod.RTCSessionDescription(sdp=d["sdp"], type=d["type"])

    async def offer(self, pc: Any) -> Json:
        # aiortc's setLocalDescription gathers before it returns (it has no trickle).
        await pc.setLocalDescription(await pc.createOffer())
        return self._desc(pc)

    async def answer(self, pc: Any, offer: Json) -> Json:
        await pc.setRemoteDescription(self._session(offer))
        await pc.setLocalDescription(await pc.createAnswer())
        return self._desc(pc)

    async def accept(self, pc: Any, answer: Json) -> None:
        await pc.setRemoteDescription(self._session(answer))

    async def close(self, pc: Any) -> None:
        await pc.close()


def load(name: str) -> Impl:
    if name == "rtcpeer":
        return RtcpeerImpl()
    if name == "aiortc":
        return AiortcImpl()
    raise ValueError(f"unknown implementation {name!r}")
