"""Helpers for the MDN port tests: load an example from examples/mdn, make connected pairs."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from rtcpeer import RTCDataChannel, RTCPeerConnection

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MDN_EXAMPLES = os.path.join(ROOT, "examples", "mdn")
LOOPBACK = {"includeLoopback": True}


def load_example(name: str) -> ModuleType:
    """A fresh copy of examples/mdn/<name> (fresh module globals for every test)."""
    path = os.path.join(MDN_EXAMPLES, name)
    spec = importlib.util.spec_from_file_location(f"mdn_example_{name[:-3]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.005)


def trickle(a: RTCPeerConnection, b: RTCPeerConnection) -> None:
    async def forward(dst: RTCPeerConnection, cand: Any) -> None:
        if cand is not None and dst.signalingState != "closed":
            await dst.addIceCandidate(cand)

    a.addEventListener("icecandidate", lambda e: forward(b, e.candidate))
    b.addEventListener("icecandidate", lambda e: forward(a, e.candidate))


async def negotiate(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(offerer.localDescription)
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(answerer.localDescription)


async def open_channel_pair(
    label: str = "chat", options: dict[str, Any] | None = None
) -> tuple[RTCPeerConnection, RTCPeerConnection, RTCDataChannel, RTCDataChannel]:
    """Two connected peers and an open channel (local end, remote end)."""
    a, b = RTCPeerConnection(LOOPBACK), RTCPeerConnection(LOOPBACK)
    trickle(a, b)
    local = a.createDataChannel(label, options)
    remote: list[RTCDataChannel] = []
    b.addEventListener("datachannel", lambda e: remote.append(e.channel))
    await negotiate(a, b)
    await wait_for(lambda: local.readyState == "open" and bool(remote))
    return a, b, local, remote[0]


async def close_all(*pcs: RTCPeerConnection) -> None:
    for pc in pcs:
        task = pc.close()
        if task is not None:
            await task
