"""MDN "Establishing a connection: The WebRTC perfect negotiation pattern", ported line by line.

https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Perfect_negotiation

Each peer runs MDN's code unchanged in shape: ``makingOffer``, ``ignoreOffer``,
``isSettingRemoteAnswerPending``, the ``negotiationneeded`` handler using the no-argument
``setLocalDescription()``, ``restartIce()`` on ICE failure, and the ``signaler.onmessage``
handler with the offer-collision test. MDN's page does this in a browser tab per peer with
globals; here ``start_peer(polite, signaler)`` holds one peer's "globals" in a closure, so two
peers (one polite, one impolite) run in one process over the in-process signaling channel of
``examples/signaling_channel.py``.

What differs: the page's ``start()`` adds camera tracks (getUserMedia); this port opens a data
channel on *both* peers at the same moment instead, which makes both send an offer at once
(the glare the pattern exists for).

Run: ``python examples/mdn/perfect_negotiation.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from signaling_channel import SignalingChannel

from rtcpeer import RTCPeerConnection

config = {"iceServers": [], "includeLoopback": True}


@dataclass
class Peer:
    pc: RTCPeerConnection
    polite: bool
    errors: list[str] = field(default_factory=list)  # console.error
    ignored_offers: int = 0  # times the impolite peer ignored a colliding offer
    rollbacks: int = 0  # times the polite peer's setRemoteDescription rolled back its offer
    signaling_state: str = ""  # pc.signalingState once both messages arrived


def start_peer(polite: bool, signaler: SignalingChannel) -> Peer:
    pc = RTCPeerConnection(config)
    peer = Peer(pc, polite)

    making_offer = False

    async def onnegotiationneeded(event: Any) -> None:
        nonlocal making_offer
        try:
            making_offer = True
            await pc.setLocalDescription()
            signaler.send({"description": pc.localDescription})
        except Exception as err:
            peer.errors.append(repr(err))
        finally:
            making_offer = False

    pc.onnegotiationneeded = onnegotiationneeded

    def oniceconnectionstatechange(event: Any) -> None:
        if pc.iceConnectionState == "failed":
            pc.restartIce()

    pc.oniceconnectionstatechange = oniceconnectionstatechange

    pc.onicecandidate = lambda event: signaler.send({"candidate": event.candidate})

    ignore_offer = False
    is_setting_remote_answer_pending = False

    async def onmessage(event: Any) -> None:
        nonlocal ignore_offer, is_setting_remote_answer_pending
        description = event.data.get("description")
        candidate = event.data.get("candidate")
        try:
            if description:
                ready_for_offer = not making_offer and (
                    pc.signalingState == "stable" or is_setting_remote_answer_pending
                )
                offer_collision = description.type == "offer" and not ready_for_offer

                ignore_offer = not polite and offer_collision
                if ignore_offer:
                    peer.ignored_offers += 1
                    return

                if offer_collision:
                    peer.rollbacks += 1  # setRemoteDescription rolls our offer back
                is_setting_remote_answer_pending = description.type == "answer"
                await pc.setRemoteDescription(description)  # SRD rolls back as needed
                is_setting_remote_answer_pending = False
                if description.type == "offer":
                    await pc.setLocalDescription()
                    signaler.send({"description": pc.localDescription})
            elif candidate:
                try:
                    await pc.addIceCandidate(candidate)
                except Exception:
                    if not ignore_offer:
                        raise  # Suppress ignored offer's candidates
        except Exception as err:
            peer.errors.append(repr(err))

    signaler.onmessage = onmessage  # type: ignore[attr-defined]
    return peer


async def main() -> tuple[Peer, Peer, dict[str, list[str]]]:
    """Both peers open a channel at once; returns the peers and what each one received."""
    signaler_a, signaler_b = SignalingChannel.pair()
    polite = start_peer(True, signaler_a)
    impolite = start_peer(False, signaler_b)
    received: dict[str, list[str]] = {"polite": [], "impolite": []}

    for name, peer in (("polite", polite), ("impolite", impolite)):
        channel = peer.pc.createDataChannel(f"chat-{name}")
        channel.onopen = lambda event, c=channel, n=name: c.send(f"hello from the {n} peer")

        def ondatachannel(event: Any, n: str = name) -> None:
            event.channel.onmessage = lambda e: received[n].append(e.data)

        peer.pc.ondatachannel = ondatachannel

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (received["polite"] and received["impolite"]):
        if loop.time() > deadline:
            raise TimeoutError(f"no message after 10 s: {received}")
        await asyncio.sleep(0.005)
    for peer in (polite, impolite):
        peer.signaling_state = peer.pc.signalingState
        await peer.pc.close()  # type: ignore[misc]
    return polite, impolite, received


if __name__ == "__main__":
    p, i, got = asyncio.run(main())
    print("polite peer received:", got["polite"], "rollbacks:", p.rollbacks)
    print("impolite peer received:", got["impolite"], "ignored offers:", i.ignored_offers)
