"""MDN "A simple RTCDataChannel sample", ported line by line (two peers in one process).

https://developer.mozilla.org/en-US/docs/Web/API/WebRTC_API/Simple_RTCDataChannel_sample

The page's buttons and text boxes become the ``ui`` object (``connect_button_disabled``,
``message_input_disabled``, ``receive_box``...); the button clicks become calls to
``connect_peers()``, ``send_message(text)`` and ``disconnect_peers()``. Everything else keeps
MDN's names (in snake_case for the functions) and order. The one rtcpeer-specific line is
``includeLoopback`` in the configuration, so the two peers connect without a network.

Run: ``python examples/mdn/simple_datachannel.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rtcpeer import RTCPeerConnection


@dataclass
class Page:
    """The sample's HTML controls."""

    connect_button_disabled: bool = False
    disconnect_button_disabled: bool = True
    send_button_disabled: bool = True
    message_input_disabled: bool = True
    message_input_value: str = ""
    receive_box: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # console.log


ui = Page()
config = {"includeLoopback": True}

local_connection: Any = None  # RTCPeerConnection for our "local" connection
remote_connection: Any = None  # RTCPeerConnection for the "remote"
send_channel: Any = None  # RTCDataChannel for the local (sender)
receive_channel: Any = None  # RTCDataChannel for the remote (receiver)


async def connect_peers() -> None:
    """Connect the two peers (the "Connect" button)."""
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
    async def local_ice_candidate(e: Any) -> None:
        if e.candidate:
            try:
                await remote_connection.addIceCandidate(e.candidate)
            except Exception as error:
                handle_add_candidate_error(error)

    async def remote_ice_candidate(e: Any) -> None:
        if e.candidate:
            try:
                await local_connection.addIceCandidate(e.candidate)
            except Exception as error:
                handle_add_candidate_error(error)

    local_connection.onicecandidate = local_ice_candidate
    remote_connection.onicecandidate = remote_ice_candidate

    # Now create an offer to connect; this starts the process
    try:
        offer = await local_connection.createOffer()
        await local_connection.setLocalDescription(offer)
        await remote_connection.setRemoteDescription(local_connection.localDescription)
        answer = await remote_connection.createAnswer()
        await remote_connection.setLocalDescription(answer)
        await local_connection.setRemoteDescription(remote_connection.localDescription)
    except Exception as error:
        handle_create_description_error(error)


def handle_create_description_error(error: Exception) -> None:
    ui.log.append(f"Unable to create an offer: {error}")


def handle_add_candidate_error(error: Exception) -> None:
    ui.log.append(f"Oh noes! addICECandidate failed! {error}")


def send_message() -> None:
    """The "Send" button: send what is in the input box, then clear it."""
    message = ui.message_input_value
    send_channel.send(message)
    ui.message_input_value = ""


def handle_send_channel_status_change(event: Any) -> None:
    if send_channel:
        state = send_channel.readyState
        if state == "open":
            ui.message_input_disabled = False
            ui.send_button_disabled = False
            ui.disconnect_button_disabled = False
            ui.connect_button_disabled = True
        else:
            ui.message_input_disabled = True
            ui.send_button_disabled = True
            ui.connect_button_disabled = False
            ui.disconnect_button_disabled = True


def receive_channel_callback(event: Any) -> None:
    global receive_channel
    receive_channel = event.channel
    receive_channel.onmessage = handle_receive_message
    receive_channel.onopen = handle_receive_channel_status_change
    receive_channel.onclose = handle_receive_channel_status_change


def handle_receive_message(event: Any) -> None:
    ui.receive_box.append(event.data)


def handle_receive_channel_status_change(event: Any) -> None:
    if receive_channel:
        ui.log.append(f"Receive channel's status has changed to {receive_channel.readyState}")


def disconnect_peers() -> None:
    """The "Disconnect" button."""
    global local_connection, remote_connection, send_channel, receive_channel

    # Close the RTCDataChannels if they're open
    send_channel.close()
    receive_channel.close()

    # Close the RTCPeerConnections
    local_connection.close()
    remote_connection.close()

    send_channel = None
    receive_channel = None
    local_connection = None
    remote_connection = None

    # Update user interface elements
    ui.connect_button_disabled = False
    ui.disconnect_button_disabled = True
    ui.send_button_disabled = True
    ui.message_input_value = ""
    ui.message_input_disabled = True


async def main(messages: tuple[str, ...] = ("Hello", "from rtcpeer")) -> Page:
    """Click Connect, type and send each message, wait for them, click Disconnect."""
    await connect_peers()
    while ui.send_button_disabled:  # the user waits until "Send" is enabled
        await asyncio.sleep(0.005)
    for text in messages:
        ui.message_input_value = text
        send_message()
    while len(ui.receive_box) < len(messages):
        await asyncio.sleep(0.005)
    disconnect_peers()
    await asyncio.sleep(0)  # let the teardown tasks start
    return ui


if __name__ == "__main__":
    page = asyncio.run(main())
    print("\n".join(page.log))
    print("received:", page.receive_box)
