"""rtcpeer against aiortc, an independent Python WebRTC implementation, in a child process.

Every case runs twice: rtcpeer offering (aiortc answers; it is then the ICE controlled agent)
and aiortc offering. See aiortc_harness.py for how the two reach each other on this machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiortc_harness import AiortcProcess, Link, echo_round_trip, opened, wait_until

from rtcpeer import RTCDataChannel

pytestmark = [pytest.mark.interop, pytest.mark.asyncio(loop_scope="module")]

OFFERERS = ["rtcpeer", "aiortc"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def aio() -> AsyncIterator[AiortcProcess]:
    proc = await AiortcProcess.start()
    try:
        yield proc
    finally:
        await proc.close()


@pytest_asyncio.fixture(loop_scope="module")
async def link(aio: AiortcProcess) -> AsyncIterator[Link]:
    lk = await Link(aio).setup()
    try:
        yield lk
    finally:
        await lk.close()


async def channel_pair(
    link: Link, offerer: str, label: str, options: dict[str, Any] | None = None
) -> RTCDataChannel:
    """A channel created by the offerer before negotiating; returns rtcpeer's end of it."""
    if offerer == "rtcpeer":
        return link.pc.createDataChannel(label, options or {})
    await link.aio_channel(label, options)
    return await remote_channel(link, label)


async def remote_channel(link: Link, label: str) -> RTCDataChannel:
    await wait_until(lambda: label in link.channels, what=f"datachannel {label!r}")
    return link.channels[label]


async def connect(link: Link, offerer: str, labels: list[str]) -> list[RTCDataChannel]:
    """Create the offerer's channels, negotiate, and wait until all are open on both sides."""
    mine: list[RTCDataChannel] = []
    if offerer == "rtcpeer":
        mine = [link.pc.createDataChannel(label) for label in labels]
    else:
        for label in labels:
            await link.aio_channel(label)
    await link.negotiate(offerer)
    if offerer == "aiortc":
        mine = [await remote_channel(link, label) for label in labels]
    for ch in mine:
        await opened(ch)
    for label in labels:
        if offerer == "rtcpeer":
            await link.aio_event("datachannel", label=label)
        else:
            await link.aio_event("open", label=label)
    return mine


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_connect_and_exchange(link: Link, offerer: str) -> None:
    (chat,) = await connect(link, offerer, ["chat"])
    await wait_until(lambda: link.pc.connectionState == "connected", what="rtcpeer connected")
    await link.aio_event("connectionstate", state="connected")
    await link.check_candidates()
    assert link.pc.signalingState == "stable"
    state = await link.aio_state()
    assert state["signalingState"] == "stable"
    assert state["connectionState"] == "connected"

    # rtcpeer -> aiortc, str stays str and bytes stay bytes
    chat.send("hello aiortc")
    chat.send(b"\x00\x01\xfe\xff")
    chat.send("")  # empty string: PPID 56 on the wire
    assert await link.aio_messages("chat", 3) == ["hello aiortc", b"\x00\x01\xfe\xff", ""]

    # aiortc -> rtcpeer
    got: list[Any] = []
    chat.onmessage = lambda e: got.append(e.data)
    await link.aio_send("chat", "hello rtcpeer")
    await link.aio_send("chat", b"\xff\x00")
    await wait_until(lambda: len(got) == 2, what="2 messages from aiortc")
    assert got == ["hello rtcpeer", b"\xff\x00"]

    stats = await link.pc.getStats()
    assert any(v["type"] == "candidate-pair" for v in stats.values())
