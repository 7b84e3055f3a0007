"""MDN "WebRTC connectivity" and "Lifetime of a WebRTC session", ported.

https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Connectivity
https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Session_lifetime

The connectivity guide walks an offer/answer exchange and explains pending versus current
descriptions (``pendingLocalDescription`` holds an offer until the answer arrives, then it
becomes ``currentLocalDescription``) and trickled ICE candidates; the lifetime guide adds the
ICE restart (``pc.restartIce()``, which fires ``negotiationneeded``; the next offer carries new
ICE credentials) and the ``iceRestart`` option of ``createOffer()``. ``exchange()`` records the
description slots after every step and every state-change event both peers fire.

Run: ``python examples/mdn/session_lifetime.py``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rtcpeer import RTCPeerConnection

config = {"includeLoopback": True}
EVENTS = (
    "signalingstatechange",
    "icegatheringstatechange",
    "iceconnectionstatechange",
    "connectionstatechange",
    "negotiationneeded",
)


def ufrag(sdp: str) -> str:
    match = re.search(r"a=ice-ufrag:(\S+)", sdp)
    return match.group(1) if match else ""


def slots(pc: RTCPeerConnection) -> dict[str, str | None]:
    """Which description each of the six attributes holds (its type), or None."""
    names = (
        "pendingLocalDescription",
        "currentLocalDescription",
        "pendingRemoteDescription",
        "currentRemoteDescription",
    )
    out: dict[str, str | None] = {}
    for name in names:
        desc = getattr(pc, name)
        out[name] = desc.type if desc is not None else None
    return out


def record(pc: RTCPeerConnection, log: list[tuple[str, str]]) -> None:
    state_of = {
        "signalingstatechange": lambda: pc.signalingState,
        "icegatheringstatechange": lambda: pc.iceGatheringState,
        "iceconnectionstatechange": lambda: pc.iceConnectionState,
        "connectionstatechange": lambda: pc.connectionState,
        "negotiationneeded": lambda: "",
    }
    for name in EVENTS:
        pc.addEventListener(name, lambda e, n=name: log.append((n, state_of[n]())))


async def exchange(caller: RTCPeerConnection, callee: RTCPeerConnection, steps: list[Any]) -> None:
    """One offer/answer round; ``steps`` gets (step, caller slots, callee slots) after each."""
    await caller.setLocalDescription()  # createOffer() + setLocalDescription(offer)
    steps.append(("caller set offer", slots(caller), slots(callee)))
    await callee.setRemoteDescription(caller.localDescription)
    steps.append(("callee got offer", slots(caller), slots(callee)))
    await callee.setLocalDescription()  # createAnswer() + setLocalDescription(answer)
    steps.append(("callee set answer", slots(caller), slots(callee)))
    await caller.setRemoteDescription(callee.localDescription)
    steps.append(("caller got answer", slots(caller), slots(callee)))


async def wait_connected(*pcs: RTCPeerConnection, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while any(pc.connectionState != "connected" for pc in pcs):
        if loop.time() > end:
            raise TimeoutError([pc.connectionState for pc in pcs])
        await asyncio.sleep(0.005)


async def main() -> dict[str, Any]:
    caller, callee = RTCPeerConnection(config), RTCPeerConnection(config)
    caller_log: list[tuple[str, str]] = []
    callee_log: list[tuple[str, str]] = []
    record(caller, caller_log)
    record(callee, callee_log)
    caller.onicecandidate = lambda e: asyncio.ensure_future(callee.addIceCandidate(e.candidate))
    callee.onicecandidate = lambda e: asyncio.ensure_future(caller.addIceCandidate(e.candidate))

    received: list[str] = []
    channel = caller.createDataChannel("session")
    callee.ondatachannel = lambda e: setattr(
        e.channel, "onmessage", lambda m: received.append(m.data)
    )
    steps: list[Any] = []
    await exchange(caller, callee, steps)
    await wait_connected(caller, callee)
    first_ufrag = ufrag(caller.localDescription.sdp)
    while channel.readyState != "open":
        await asyncio.sleep(0.005)
    channel.send("before restart")

    # Lifetime of a session: ICE restart. restartIce() makes the next offer restart ICE and
    # fires negotiationneeded, whose handler (as in every MDN sample) does the exchange.
    needed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    caller.onnegotiationneeded = lambda e: needed.done() or needed.set_result(None)
    caller.restartIce()
    await asyncio.wait_for(needed, 5)
    restart_steps: list[Any] = []
    await exchange(caller, callee, restart_steps)
    second_ufrag = ufrag(caller.localDescription.sdp)
    await wait_connected(caller, callee)
    channel.send("after restart")

    # The older form: createOffer({iceRestart: true}).
    offer = await caller.createOffer({"iceRestart": True})
    await caller.setLocalDescription(offer)
    await callee.setRemoteDescription(caller.localDescription)
    await callee.setLocalDescription(await callee.createAnswer())
    await caller.setRemoteDescription(callee.localDescription)
    third_ufrag = ufrag(caller.localDescription.sdp)
    await wait_connected(caller, callee)
    channel.send("after second restart")
    while len(received) < 3:
        await asyncio.sleep(0.005)
    result = {
        "steps": steps,
        "restart_steps": restart_steps,
        "ufrags": (first_ufrag, second_ufrag, third_ufrag),
        "caller_log": caller_log,
        "callee_log": callee_log,
        "received": received,
    }
    for pc in (caller, callee):
        await pc.close()  # type: ignore[misc]
    return result


if __name__ == "__main__":
    out = asyncio.run(main())
    for step in out["steps"]:
        print(step)
    print("ufrags:", out["ufrags"])
    print("received:", out["received"])
