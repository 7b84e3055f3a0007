"""Helpers for the peer-connection tests: loopback pairs, trickle wiring, waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from rtcpeer import RTCDataChannel, RTCPeerConnection

LOOPBACK = {"includeLoopback": True}


def new_pc(**extra: Any) -> RTCPeerConnection:
    config: dict[str, Any] = dict(LOOPBACK)
    config.update(extra)
    return RTCPeerConnection(config)


def trickle(a: RTCPeerConnection, b: RTCPeerConnection) -> None:
    """Forward each side's candidates to the other as they are found."""

    async def forward(dst: RTCPeerConnection, cand: Any) -> None:
        if dst.signalingState != "closed":
            await dst.addIceCandidate(cand)

    a.addEventListener("icecandidate", lambda e: asyncio.ensure_future(forward(b, e.candidate)))
    b.addEventListener("icecandidate", lambda e: asyncio.ensure_future(forward(a, e.candidate)))


async def negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.005)


def event_future(target: Any, type: str) -> asyncio.Future[Any]:
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def done(event: Any) -> None:
        if not fut.done():
            fut.set_result(event)

    target.addEventListener(type, done)
    return fut


async def open_pair(
    label: str = "chat", options: dict[str, Any] | None = None
) -> tuple[RTCPeerConnection, RTCPeerConnection, RTCDataChannel, RTCDataChannel]:
    """Two connected peers and a data channel opened by the first one."""
    a, b = new_pc(), new_pc()
    trickle(a, b)
    remote = event_future(b, "datachannel")
    dc = a.createDataChannel(label, options or {})
    opened = event_future(dc, "open")
    await negotiate(a, b)
    await asyncio.wait_for(opened, 5)
    event = await asyncio.wait_for(remote, 5)
    return a, b, dc, event.channel


async def close_all(*pcs: RTCPeerConnection) -> None:
    for pc in pcs:
        task = pc.close()
        if task is not None:
            await task
