"""MDN "Using WebRTC data channels", ported line by line.

https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Using_data_channels

Three parts of the guide, each a function run on a fresh pair of peers:

- ``automatic_negotiation()``: ``pc.createDataChannel("MyApp Channel")``; the other peer gets
  the ``datachannel`` event; ``beginTransmission(dataChannel)`` on ``open``.
- ``manual_negotiation()``: both peers create ``{"negotiated": True, "id": 0}`` themselves;
  no ``datachannel`` event. (MDN's snippet passes only ``negotiated: true``; the W3C spec
  throws TypeError for a negotiated channel without an ``id``, so the port gives one.)
- ``buffered_send()``: "Buffering": keep the send buffer fed with ``bufferedAmountLowThreshold``
  and the ``bufferedamountlow`` event (the snippet of MDN's ``bufferedAmountLowThreshold`` page).

``connect(pc1, pc2)`` is the signaling every MDN sample has (offer/answer and trickled
candidates), as in "A simple RTCDataChannel sample".

Run: ``python examples/mdn/using_datachannels.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rtcpeer import RTCPeerConnection

config = {"includeLoopback": True}


async def connect(pc1: RTCPeerConnection, pc2: RTCPeerConnection) -> None:
    async def to_pc2(event: Any) -> None:
        if event.candidate:
            await pc2.addIceCandidate(event.candidate)

    async def to_pc1(event: Any) -> None:
        if event.candidate:
            await pc1.addIceCandidate(event.candidate)

    pc1.onicecandidate = to_pc2
    pc2.onicecandidate = to_pc1
    await pc1.setLocalDescription(await pc1.createOffer())
    await pc2.setRemoteDescription(pc1.localDescription)
    await pc2.setLocalDescription(await pc2.createAnswer())
    await pc1.setRemoteDescription(pc2.localDescription)


async def until(predicate: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.005)


async def automatic_negotiation() -> dict[str, Any]:
    pc, remote = RTCPeerConnection(config), RTCPeerConnection(config)
    out: dict[str, Any] = {"received": []}

    def begin_transmission(channel: Any) -> None:
        channel.send("Hi, remote peer!")

    data_channel = pc.createDataChannel("MyApp Channel")
    data_channel.addEventListener("open", lambda event: begin_transmission(data_channel))

    def on_datachannel(event: Any) -> None:
        out["label"] = event.channel.label
        out["negotiated"] = event.channel.negotiated
        event.channel.addEventListener("message", lambda e: out["received"].append(e.data))

    remote.addEventListener("datachannel", on_datachannel)
    await connect(pc, remote)
    await until(lambda: out["received"])
    out["id"] = data_channel.id
    for p in (pc, remote):
        await p.close()  # type: ignore[misc]
    return out


async def manual_negotiation() -> dict[str, Any]:
    pc, remote = RTCPeerConnection(config), RTCPeerConnection(config)
    out: dict[str, Any] = {"received": [], "datachannel_events": 0}

    def begin_transmission(channel: Any) -> None:
        channel.send("Hi, remote peer!")

    data_channel = pc.createDataChannel("MyApp Channel", {"negotiated": True, "id": 0})
    data_channel.addEventListener("open", lambda event: begin_transmission(data_channel))

    # requestRemoteChannel(dataChannel.id): the other side makes the same channel itself.
    def request_remote_channel(ident: int) -> Any:
        channel = remote.createDataChannel("MyApp Channel", {"negotiated": True, "id": ident})
        channel.addEventListener("message", lambda e: out["received"].append(e.data))
        return channel

    remote_channel = request_remote_channel(data_channel.id)
    remote.addEventListener(
        "datachannel",
        lambda e: out.__setitem__("datachannel_events", out["datachannel_events"] + 1),
    )
    await connect(pc, remote)
    await until(lambda: out["received"])
    out["ids"] = (data_channel.id, remote_channel.id)
    for p in (pc, remote):
        await p.close()  # type: ignore[misc]
    return out


async def buffered_send(total: int = 1 << 20, chunk: int = 65536) -> dict[str, Any]:
    pc, remote = RTCPeerConnection(config), RTCPeerConnection(config)
    source = bytes(range(256)) * (total // 256)  # "Replace with your own source object"
    position = 0
    out: dict[str, Any] = {"low_events": 0, "received": 0, "max_buffered": 0}

    dc = pc.createDataChannel("SendFile")
    dc.bufferedAmountLowThreshold = 65536

    def send_more() -> None:
        nonlocal position
        # Keep at least 64 kB queued, reading 64 kB at a time from the source.
        while position < len(source) and dc.bufferedAmount <= dc.bufferedAmountLowThreshold:
            dc.send(source[position : position + chunk])
            position += chunk
            out["max_buffered"] = max(out["max_buffered"], dc.bufferedAmount)

    def on_low(event: Any) -> None:
        out["low_events"] += 1
        send_more()

    dc.onbufferedamountlow = on_low
    dc.onopen = lambda event: send_more()

    def on_datachannel(event: Any) -> None:
        event.channel.binaryType = "arraybuffer"

        def on_message(e: Any) -> None:
            out["received"] += len(e.data)

        event.channel.onmessage = on_message

    remote.ondatachannel = on_datachannel
    await connect(pc, remote)
    await until(lambda: out["received"] >= total)
    for p in (pc, remote):
        await p.close()  # type: ignore[misc]
    return out


async def main() -> list[dict[str, Any]]:
    return [await automatic_negotiation(), await manual_negotiation(), await buffered_send()]


if __name__ == "__main__":
    for result in asyncio.run(main()):
        print(result)
