"""MDN's "A simple RTCDataChannel sample", ported line by line (two peers in one process).

https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Simple_RTCDataChannel_sample
The page's buttons become function calls: connectPeers(), sendMessage(), disconnectPeers().
Run: ``python examples/datachannel_chat.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rtcpeer import RTCPeerConnection

config = {"includeLoopback": True}
local_connection: RTCPeerConnection | None = None  # RTCPeerConnection for our "local" connection
remote_connection: RTCPeerConnection | None = None  # RTCPeerConnection for the "remote"
send_channel: Any = None  # RTCDataChannel for the local (sender)
receive_channel: Any = None  # RTCDataChannel for the remote (receiver)
received: list[str] = []  # stands in for the receive box


async def connect_peers() -> None:
    global local_connection, remote_connection, send_channel
    # Create the local connection and its event listeners
    local_connection = RTCPeerConnection(config)

    # Create the data channel and establish its event listeners
    send_channel = local_connection.createDataChannel("sendChannel")
    send_channel.onopen = handle_send_channel_status_change
    send_channel.onclose = handle_send_channel_status_change

    # Create the remote connection and its event listeners
    remote_connection = RTCPeerConnection(config)
    remote_connection.ondatachannel = receive_channel_callback

    # Set up the ICE candidates for the two peers
    local, remote = local_connection, remote_connection

    async def local_candidate(e: Any) -> None:
        if e.candidate:
            await remote.addIceCandidate(e.candidate)

    async def remote_candidate(e: Any) -> None:
        if e.candidate:
            await local.addIceCandidate(e.candidate)

    local_connection.onicecandidate = local_candidate
    remote_connection.onicecandidate = remote_candidate

    # Now create an offer to connect; this starts the process
    offer = await local_connection.createOffer()
    await local_connection.setLocalDescription(offer)
    await remote_connection.setRemoteDescription(local_connection.localDescription)
    answer = await remote_connection.createAnswer()
    await remote_connection.setLocalDescription(answer)
    await local_connection.setRemoteDescription(remote_connection.localDescription)


def send_message(message: str) -> None:
    send_channel.send(message)


def handle_send_channel_status_change(event: Any) -> None:
    if send_channel:
        state = send_channel.readyState
        print("send channel is", state)


def receive_channel_callback(event: Any) -> None:
    global receive_channel
    receive_channel = event.channel
    receive_channel.onmessage = handle_receive_message
    receive_channel.onopen = handle_receive_channel_status_change
    receive_channel.onclose = handle_receive_channel_status_change


def handle_receive_message(event: Any) -> None:
    received.append(event.data)
    print("received:", event.data)


def handle_receive_channel_status_change(event: Any) -> None:
    if receive_channel:
        print(f"Receive channel's status has changed to {receive_channel.readyState}")


async def disconnect_peers() -> None:
    # Close the RTCDataChannels if they're open
    send_channel.close()
    receive_channel.close()
    # Close the RTCPeerConnections
    assert local_connection is not None and remote_connection is not None
    await local_connection.close()  # type: ignore[misc]
    await remote_connection.close()  # type: ignore[misc]


async def main() -> list[str]:
    await connect_peers()
    while send_channel.readyState != "open":
        await asyncio.sleep(0.01)
    for text in ("Hello", "from rtcpeer"):
        send_message(text)
    while len(received) < 2:
        await asyncio.sleep(0.01)
    await disconnect_peers()
    return list(received)


if __name__ == "__main__":
    asyncio.run(main())
