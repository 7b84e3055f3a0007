"""MDN's "Perfect negotiation" example, ported line by line to rtcpeer.

https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Perfect_negotiation

``PerfectNegotiation`` is the MDN code: a polite and an impolite peer that both may start a
negotiation at any time; collisions (glare) are resolved by the polite peer rolling back.
The signaling channel is anything with ``send(dict)``; incoming messages go to
``on_message(dict)`` (descriptions and candidates are RTCSessionDescription/RTCIceCandidate
objects or plain dicts, as JSON would carry them).

Run it: ``python examples/perfect_negotiation.py`` (two peers in one process, both opening a
data channel at the same time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from rtcpeer import RTCPeerConnection, RTCSessionDescription


class PerfectNegotiation:
    def __init__(self, pc: RTCPeerConnection, polite: bool, send: Callable[[dict[str, Any]], Any]):
        self.pc = pc
        self.polite = polite
        self.send = send
        self.making_offer = False
        self.ignore_offer = False
        self.is_setting_remote_answer_pending = False

        # pc.onicecandidate = ({ candidate }) => signaler.send({ candidate });
        pc.onicecandidate = lambda event: self.send({"candidate": event.candidate})
        pc.onnegotiationneeded = self.on_negotiation_needed

    # pc.onnegotiationneeded = async () => { ... }
    async def on_negotiation_needed(self, event: Any = None) -> None:
        try:
            self.making_offer = True
            await self.pc.setLocalDescription()
            self.send({"description": self.pc.localDescription})
        except Exception:
            logging.exception("negotiationneeded failed")
        finally:
            self.making_offer = False

    # signaler.onmessage = async ({ data: { description, candidate } }) => { ... }
    async def on_message(self, message: dict[str, Any]) -> None:
        pc = self.pc
        description = message.get("description")
        candidate = message.get("candidate")
        try:
            if description is not None:
                if isinstance(description, dict):
                    description = RTCSessionDescription(description)
                # An offer may come in while we are busy processing SRD(answer).
                ready_for_offer = not self.making_offer and (
                    pc.signalingState == "stable" or self.is_setting_remote_answer_pending
                )
                offer_collision = description.type == "offer" and not ready_for_offer
                self.ignore_offer = not self.polite and offer_collision
                if self.ignore_offer:
                    return
                self.is_setting_remote_answer_pending = description.type == "answer"
                await pc.setRemoteDescription(description)  # SRD rolls back as needed
                self.is_setting_remote_answer_pending = False
                if description.type == "offer":
                    await pc.setLocalDescription()
                    self.send({"description": pc.localDescription})
            elif "candidate" in message:
                try:
                    await pc.addIceCandidate(candidate)
                except Exception:
                    if not self.ignore_offer:
                        raise  # Suppress ignored offer's candidates
        except Exception:
            logging.exception("signaling message failed")


async def main() -> None:
    config = {"includeLoopback": True}
    pc1, pc2 = RTCPeerConnection(config), RTCPeerConnection(config)
    box1: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    box2: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    polite = PerfectNegotiation(pc1, True, box2.put_nowait)
    impolite = PerfectNegotiation(pc2, False, box1.put_nowait)

    async def pump(box: asyncio.Queue[dict[str, Any]], peer: PerfectNegotiation) -> None:
        while True:
            await peer.on_message(await box.get())

    pumps = [asyncio.ensure_future(pump(box1, polite)), asyncio.ensure_future(pump(box2, impolite))]
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    # Both sides open a channel at once: a glare both peers survive.
    for pc, name in ((pc1, "polite"), (pc2, "impolite")):
        channel = pc.createDataChannel(name)
        channel.onopen = lambda e, c=channel: c.send(f"hello from {c.label}")

    def on_datachannel(event: Any) -> None:
        def on_message(e: Any) -> None:
            print("received:", e.data)
            if not done.done():
                done.set_result(e.data)

        event.channel.onmessage = on_message

    pc1.ondatachannel = on_datachannel
    pc2.ondatachannel = on_datachannel
    await asyncio.wait_for(done, 10)
    print("signaling states:", pc1.signalingState, pc2.signalingState)
    for task in pumps:
        task.cancel()
    for pc in (pc1, pc2):
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
