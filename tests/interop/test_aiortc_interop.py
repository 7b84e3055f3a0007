"""rtcpeer against aiortc, an independent Python WebRTC implementation, in a child process.

Every case runs with rtcpeer offering (aiortc answers: ICE controlled, DTLS client) and with
aiortc offering (rtcpeer answers). How the two reach each other on this machine is described in
aiortc_harness.py.

Found here: aiortc fails every DTLS handshake in which no SRTP protection profile was
negotiated, data-only sessions included ("DTLS handshake failed (no SRTP profile negotiated)").
Browsers always offer use_srtp, so Chromium never showed it; rtcpeer's connection now always
offers/selects one (``DtlsCore(..., srtp=True)`` in rtcpeer.aio.connection), and every test
below exercises that, with both DTLS roles.

Also found here: aiortc reads each DTLS record with ``SSL.recv(1500)``; one bigger record
(the 16 KiB SCTP path-MTU probe rtcpeer used to send on every same-host pair) leaves its
reader out of step for good and no channel ever opens. The probe now goes only to peers that
announce ``a=x-rtcpeer-max-packet``; test_sctp_loss_recovery checks that no datagram to
aiortc exceeds what it reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiortc_harness import (
    AiortcProcess,
    Link,
    echo_round_trip,
    opened,
    unwire,
    wait_until,
)
from aiortc_relay import LossyRelay, ipv4_candidates, only_candidate

from rtcpeer import RTCDataChannel
from rtcpeer.ice.gather import enumerate_addresses
from rtcpeer.turnserver import TurnServer

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
    assert not aio.errors, aio.errors


async def remote_channel(link: Link, label: str) -> RTCDataChannel:
    await wait_until(lambda: label in link.channels, what=f"datachannel {label!r}")
    return link.channels[label]


async def connect(
    link: Link, offerer: str, specs: list[tuple[str, dict[str, Any]]]
) -> list[RTCDataChannel]:
    """The offerer creates each (label, options) channel, then one negotiation; returns
    rtcpeer's end of each channel once it is open on both sides."""
    mine: list[RTCDataChannel] = []
    if offerer == "rtcpeer":
        mine = [link.pc.createDataChannel(label, options) for label, options in specs]
    else:
        for label, options in specs:
            await link.aio_channel(label, options)
    await link.negotiate(offerer)
    if offerer == "aiortc":
        mine = [await remote_channel(link, label) for label, _ in specs]
    for ch in mine:
        await opened(ch)
    for label, _ in specs:
        await link.aio_event("datachannel" if offerer == "rtcpeer" else "open", label=label)
    return mine


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_connect_and_exchange(link: Link, offerer: str) -> None:
    (chat,) = await connect(link, offerer, [("chat", {})])
    await wait_until(lambda: link.pc.connectionState == "connected", what="rtcpeer connected")
    await link.aio_event("connectionstate", state="connected")
    await link.check_candidates()
    assert link.candidates_sent >= 1  # ours were trickled to aiortc, one by one
    assert link.pc.signalingState == "stable"
    assert link.pc.localDescription is not None
    assert link.pc.localDescription.type == ("offer" if offerer == "rtcpeer" else "answer")
    state = await link.aio_state()
    assert state["signalingState"] == "stable"
    assert state["connectionState"] == "connected"
    assert state["channels"]["chat"]["id"] == chat.id

    # rtcpeer -> aiortc: str stays str, bytes stay bytes, empty string survives
    chat.send("hello aiortc")
    chat.send(b"\x00\x01\xfe\xff")
    chat.send("")
    chat.send("h\u00e9llo \u2603 \U0001f600")
    assert await link.aio_messages("chat", 4) == [
        "hello aiortc",
        b"\x00\x01\xfe\xff",
        "",
        "h\u00e9llo \u2603 \U0001f600",
    ]

    # aiortc -> rtcpeer
    got: list[Any] = []
    chat.onmessage = lambda e: got.append(e.data)
    await link.aio_send("chat", "hello rtcpeer")
    await link.aio_send("chat", b"\xff\x00")
    await wait_until(lambda: len(got) == 2, what="2 messages from aiortc")
    assert got == ["hello rtcpeer", b"\xff\x00"]

    stats = await link.pc.getStats()
    pairs = [v for v in stats.values() if v["type"] == "candidate-pair"]
    assert pairs


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_channels_opened_after_connect(link: Link, offerer: str) -> None:
    """DCEP both ways on an association that is already up (no new negotiation)."""
    await connect(link, offerer, [("first", {})])
    mine = link.pc.createDataChannel("echo-late-rtcpeer")
    await link.aio_channel("echo-late-aiortc")
    theirs = await remote_channel(link, "echo-late-aiortc")
    await opened(mine)
    await opened(theirs)
    await link.aio_event("datachannel", label="echo-late-rtcpeer")
    await link.aio_event("open", label="echo-late-aiortc")
    # DTLS client takes even stream ids, server odd (RFC 8832 section 6): no collision.
    assert mine.id is not None and theirs.id is not None
    assert mine.id % 2 != theirs.id % 2
    assert link.pc.signalingState == "stable"
    assert await echo_round_trip(mine, ["to aiortc", b"\x01"]) == ["to aiortc", b"\x01"]
    got: list[Any] = []
    theirs.onmessage = lambda e: got.append(e.data)
    await link.aio_send("echo-late-aiortc", "from aiortc")
    await wait_until(lambda: got == ["from aiortc"], what="message on aiortc's late channel")


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_message_sizes(link: Link, offerer: str) -> None:
    (channel,) = await connect(link, offerer, [("echo-sizes", {})])
    payloads: list[str | bytes] = []
    for n in (1, 2, 1000, 1200, 1201, 16384, 65535, 65536):
        payloads.append(bytes((i * 7 + n) & 255 for i in range(n)))
        payloads.append("z" * n)
    payloads.append("\u00e9" * 32768)  # 64 KiB of 2-byte UTF-8
    assert await echo_round_trip(channel, payloads) == payloads

    got: list[Any] = []
    channel.onmessage = lambda e: got.append(e.data)
    big = bytes(i & 255 for i in range(65536))
    await link.aio_send("echo-sizes", big)
    await link.aio_send("echo-sizes", "y" * 65536)
    await wait_until(lambda: len(got) == 2, what="64 KiB messages from aiortc")
    assert got == [big, "y" * 65536]


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_largest_message_both_ways(link: Link, offerer: str) -> None:
    """aiortc advertises a=max-message-size:262144; a message of exactly that size passes both
    ways, one byte more is refused by our send() (W3C: TypeError) before it reaches the wire."""
    (channel,) = await connect(link, offerer, [("echo-max", {})])
    remote = link.pc.remoteDescription
    assert remote is not None and "a=max-message-size:262144" in remote.sdp
    big = bytes((i * 31) & 255 for i in range(262144))
    assert await echo_round_trip(channel, [big, "m" * 262144]) == [big, "m" * 262144]
    with pytest.raises(TypeError):
        channel.send(bytes(262145))
    assert channel.readyState == "open"
    assert await echo_round_trip(channel, ["still open"]) == ["still open"]


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_two_thousand_ordered_messages(link: Link, offerer: str) -> None:
    (channel,) = await connect(link, offerer, [("echo-bulk", {})])
    payloads = [f"message {i:05d} " + "x" * (i % 300) for i in range(2000)]
    assert await echo_round_trip(channel, payloads, timeout=20) == payloads
    state = await link.aio_state()
    assert state["channels"]["echo-bulk"]["echoed"] == 2000

    # and 2,000 sent by aiortc in one go
    got: list[Any] = []
    channel.onmessage = lambda e: got.append(e.data)
    await link.aio.command("send_many", pc=link.name, label="echo-bulk", prefix="a", count=2000)
    await wait_until(lambda: len(got) == 2000, timeout=20, what="2000 messages from aiortc")
    assert got == [f"a{i:05d}" for i in range(2000)]


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_negotiated_channel(link: Link, offerer: str) -> None:
    options = {"negotiated": True, "id": 5}
    ours = link.pc.createDataChannel("echo-neg", options)
    await link.aio_channel("echo-neg", options)
    await link.negotiate(offerer)
    await opened(ours)
    await link.aio_event("open", label="echo-neg")
    assert ours.id == 5 and ours.negotiated
    state = await link.aio_state()
    assert state["channels"]["echo-neg"]["id"] == 5
    assert await echo_round_trip(ours, ["over id 5", b"\x05"]) == ["over id 5", b"\x05"]
    assert not link.aio_events("datachannel")  # nothing announced in-band
    assert not link.channels


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_unordered_and_max_retransmits_zero(link: Link, offerer: str) -> None:
    unordered, rtx0 = await connect(
        link,
        offerer,
        [("echo-unordered", {"ordered": False}), ("echo-rtx0", {"maxRetransmits": 0})],
    )
    # The other side learned the channel parameters from DCEP.
    if offerer == "rtcpeer":
        ev_u = await link.aio_event("datachannel", label="echo-unordered")
        ev_r = await link.aio_event("datachannel", label="echo-rtx0")
        assert ev_u["ordered"] is False and ev_u["maxRetransmits"] is None
        assert ev_r["ordered"] is True and ev_r["maxRetransmits"] == 0
    else:
        assert unordered.ordered is False and unordered.maxRetransmits is None
        assert rtx0.ordered is True and rtx0.maxRetransmits == 0
    msgs = [f"u{i}" for i in range(200)]
    got = await echo_round_trip(unordered, msgs)
    assert sorted(got) == sorted(msgs)
    # Partially reliable, but nothing is lost on this host.
    msgs = [f"r{i}" for i in range(200)]
    assert await echo_round_trip(rtx0, msgs) == msgs


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_channel_parameters(link: Link, offerer: str) -> None:
    """maxPacketLifeTime and protocol travel in DCEP DATA_CHANNEL_OPEN either way."""
    options = {"maxPacketLifeTime": 500, "protocol": "chat-v1"}
    (channel,) = await connect(link, offerer, [("echo-plt", options)])
    if offerer == "rtcpeer":
        ev = await link.aio_event("datachannel", label="echo-plt")
        assert (ev["maxPacketLifeTime"], ev["maxRetransmits"]) == (500, None)
        assert (ev["protocol"], ev["ordered"]) == ("chat-v1", True)
    else:
        assert (channel.maxPacketLifeTime, channel.maxRetransmits) == (500, None)
        assert (channel.protocol, channel.ordered) == ("chat-v1", True)
    msgs = [f"p{i}" for i in range(100)]
    assert await echo_round_trip(channel, msgs) == msgs


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_renegotiation(link: Link, offerer: str) -> None:
    """A second offer/answer on a connected session, from either side, keeps the channel."""
    (channel,) = await connect(link, offerer, [("echo-reneg", {})])
    for again in ("rtcpeer", "aiortc"):
        await link.negotiate(again)
        assert link.pc.signalingState == "stable"
        assert link.pc.connectionState == "connected"
        assert await echo_round_trip(channel, [f"after {again}"]) == [f"after {again}"]


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_close_delivers_queued_messages(link: Link, offerer: str) -> None:
    """Messages sent before close() all arrive before the other side sees the close (the
    stream is reset only after them, RFC 8831 section 6.7), in both directions."""
    ours, theirs = await connect(link, offerer, [("ours", {}), ("theirs", {})])
    for i in range(300):
        ours.send(f"m{i:03d}" + "x" * 1000)
    ours.close()
    await link.aio_event("close", label="ours")
    got_by_aiortc = [unwire(e) for e in link.aio_events("message", label="ours")]
    assert got_by_aiortc == [f"m{i:03d}" + "x" * 1000 for i in range(300)]

    got: list[Any] = []
    at_close: list[int] = []
    theirs.onmessage = lambda e: got.append(e.data)
    theirs.onclose = lambda e: at_close.append(len(got))
    await link.aio.command("send_many", pc=link.name, label="theirs", prefix="n", count=300)
    await link.aio.command("close_channel", pc=link.name, label="theirs")
    await wait_until(lambda: bool(at_close), 5, "rtcpeer sees aiortc's close")
    assert at_close == [300]
    assert got == [f"n{i:05d}" for i in range(300)]


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_rtcpeer_closes(link: Link, offerer: str) -> None:
    keep, gone = await connect(link, offerer, [("echo-keep", {}), ("gone", {})])
    closed = asyncio.get_running_loop().create_future()
    gone.addEventListener("close", lambda e: closed.done() or closed.set_result(None))
    gone.close()
    await link.aio_event("close", label="gone")
    await asyncio.wait_for(closed, 5)
    assert gone.readyState == "closed"
    assert await echo_round_trip(keep, ["still here"]) == ["still here"]

    task = link.pc.close()
    assert link.pc.connectionState == "closed"
    if task is not None:
        await task
    await link.aio_event("close", label="echo-keep", timeout=5)
    await link.aio_event("connectionstate", state="closed", timeout=5)


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_aiortc_closes_channel(link: Link, offerer: str) -> None:
    keep, gone = await connect(link, offerer, [("echo-keep", {}), ("gone", {})])
    events: list[str] = []
    gone.addEventListener("closing", lambda e: events.append("closing"))
    gone.addEventListener("close", lambda e: events.append("close"))
    await link.aio.command("close_channel", pc=link.name, label="gone")
    await wait_until(lambda: gone.readyState == "closed", 5, "rtcpeer sees aiortc's close")
    assert events[-1] == "close"
    await link.aio_event("close", label="gone")
    assert await echo_round_trip(keep, ["still here"]) == ["still here"]


async def test_aiortc_closes_connection(aio: AiortcProcess) -> None:
    """aiortc's close() sends SCTP ABORT and DTLS close_notify: our channels close at once;
    our ICE transport then loses consent and connectionState leaves "connected"."""
    links = [await Link(aio).setup() for _ in OFFERERS]
    try:
        channels = [
            (await connect(lk, offerer, [("chat", {})]))[0]
            for lk, offerer in zip(links, OFFERERS, strict=True)
        ]
        states: list[list[str]] = [[] for _ in links]
        for lk, seen in zip(links, states, strict=True):
            lk.pc.addEventListener(
                "connectionstatechange",
                lambda e, lk=lk, seen=seen: seen.append(lk.pc.connectionState),
            )
        for lk in links:
            await aio.command("close", pc=lk.name)
        for ch in channels:
            await wait_until(lambda ch=ch: ch.readyState == "closed", 3, "channel closed")
        for lk in links:
            await wait_until(
                lambda lk=lk: lk.pc.connectionState in ("disconnected", "failed", "closed"),
                15,
                "connectionState leaves connected",
            )
        for seen in states:
            assert seen and seen[0] in ("disconnected", "failed", "closed")
    finally:
        for lk in links:
            task = lk.pc.close()
            if task is not None:
                await task
    assert not aio.errors, aio.errors


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_default_configuration(aio: AiortcProcess, offerer: str) -> None:
    """Without includeLoopback (what users get): the interface address pair is used."""
    link = await Link(aio, {}).setup()
    try:
        (channel,) = await connect(link, offerer, [("echo-default", {})])
        local = link.pc.localDescription
        assert local is not None
        assert " 127.0.0.1 " not in local.sdp
        assert await echo_round_trip(channel, ["default", b"cfg"]) == ["default", b"cfg"]
        stats = await link.pc.getStats()
        pair = next(
            v for v in stats.values() if v["type"] == "candidate-pair" and v.get("nominated")
        )
        assert stats[pair["remoteCandidateId"]]["address"] != "127.0.0.1"
        assert stats[pair["localCandidateId"]]["address"] != "127.0.0.1"
    finally:
        await link.close()
    assert not aio.errors, aio.errors


async def test_aiortc_on_loopback_only() -> None:
    """For hosts with no interface but lo: aiortc made to gather on 127.0.0.1 alone
    (AIORTC_PEER_LOOPBACK=1, see aiortc_peer.py) meets our loopback host candidate."""
    aio = await AiortcProcess.start({"AIORTC_PEER_LOOPBACK": "1"})
    link = await Link(aio).setup()
    try:
        (channel,) = await connect(link, "rtcpeer", [("echo-lo", {})])
        remote = link.pc.remoteDescription
        assert remote is not None
        hosts = {
            line.split()[4] for line in remote.sdp.splitlines() if line.startswith("a=candidate:")
        }
        assert hosts == {"127.0.0.1"}
        assert await echo_round_trip(channel, ["over loopback", b"lo"]) == ["over loopback", b"lo"]
        stats = await link.pc.getStats()
        pair = next(
            v for v in stats.values() if v["type"] == "candidate-pair" and v.get("nominated")
        )
        remote_cand = stats[pair["remoteCandidateId"]]
        assert remote_cand["address"] == "127.0.0.1"
    finally:
        await link.close()
        await aio.close()
    assert not aio.errors, aio.errors


def machine_ipv4() -> str:
    """The address aiortc gathers on: the first non-loopback IPv4 address, else 127.0.0.1."""
    for a in enumerate_addresses():
        if a.family == 4 and not a.loopback:
            return a.address
    return "127.0.0.1"


@pytest.mark.parametrize("offerer", OFFERERS)
async def test_sctp_loss_recovery(link: Link, offerer: str) -> None:
    """5 % of SCTP packets dropped (and 2 % reordered) each way by a relay: reliable data
    arrives whole and in order (retransmission, SACK gap reports, both stacks' timers); an
    ordered maxRetransmits=0 channel loses some messages but delivers the rest in order, so
    the abandoned ones were skipped with FORWARD-TSN (RFC 3758) in both directions."""
    relay = LossyRelay(loss=0.05, reorder=0.02, seed=11)
    await relay.start(machine_ipv4())
    link.trickle = False
    link.to_aiortc = lambda sdp: only_candidate(sdp, relay.address("b"))

    def from_aiortc(sdp: str) -> str:
        relay.aiortc = ipv4_candidates(sdp)[0]
        return only_candidate(sdp, relay.address("a"))

    link.from_aiortc = from_aiortc
    try:
        reliable, partial = await connect(
            link, offerer, [("echo-lossy", {}), ("echo-rtx0-lossy", {"maxRetransmits": 0})]
        )
        msgs = [f"m{i:04d} " + "y" * (i % 700) for i in range(1000)]
        assert await echo_round_trip(reliable, msgs, timeout=30) == msgs
        assert relay.dropped > 0
        # The relay's address is our own host: a same-host pair. Nothing bigger than aiortc's
        # 1500-byte DTLS read may reach it (no path-MTU probe to a peer that did not ask).
        assert relay.largest["b"] <= 1500, relay.largest

        got: list[Any] = []
        partial.onmessage = lambda e: got.append(e.data)
        sent = [f"r{i:03d} " + "z" * 1000 for i in range(300)]  # one SCTP packet each
        dropped_before = relay.dropped
        for m in sent:
            partial.send(m)
        assert await echo_round_trip(reliable, ["after"], timeout=10) == ["after"]
        await asyncio.sleep(0.3)
        assert relay.dropped > dropped_before
        assert got, "nothing came back on the partially reliable channel"
        assert len(got) < len(sent)
        remaining = iter(sent)
        assert all(m in remaining for m in got)  # in order, no duplicates
        # Both sides are still in step on that stream after the skips.
        assert await echo_round_trip(reliable, ["still reliable"]) == ["still reliable"]
    finally:
        relay.close()


@pytest.mark.parametrize(
    ("rtcpeer_relay", "aiortc_transport"), [(False, "udp"), (True, "udp"), (False, "tcp")]
)
async def test_through_embedded_turn_server(
    aio: AiortcProcess, rtcpeer_relay: bool, aiortc_transport: str
) -> None:
    """aiortc (aioice's TURN client, over UDP or TCP) relay-only through rtcpeer's TurnServer;
    and both sides relay-only, so the data crosses two allocations on our server."""
    host = machine_ipv4()
    async with TurnServer("rtcpeer.test", users={"alice": "pw"}, listen=(host, 0)) as server:
        url = f"turn:{host}:{server.port}"
        turn = [{"urls": url, "username": "alice", "credential": "pw"}]
        theirs = [{**turn[0], "urls": f"{url}?transport={aiortc_transport}"}]
        ours: dict[str, Any] = {"includeLoopback": True}
        if rtcpeer_relay:
            ours = {"iceServers": turn, "iceTransportPolicy": "relay"}
        link = await Link(
            aio, ours, aiortc_config={"iceServers": theirs, "iceTransportPolicy": "relay"}
        ).setup()
        try:
            (channel,) = await connect(link, "aiortc", [("echo-turn", {})])
            remote = link.pc.remoteDescription
            assert remote is not None
            types = {
                line.split()[7] for line in remote.sdp.splitlines() if line.startswith("a=cand")
            }
            assert types == {"relay"}
            msgs = ["through turn", b"\x00turn", "t" * 60000]
            assert await echo_round_trip(channel, msgs) == msgs
            stats = await link.pc.getStats()
            pair = next(
                v for v in stats.values() if v["type"] == "candidate-pair" and v.get("nominated")
            )
            assert stats[pair["remoteCandidateId"]]["candidateType"] == "relay"
            if rtcpeer_relay:
                assert stats[pair["localCandidateId"]]["candidateType"] == "relay"
        finally:
            await link.close()
    assert not aio.errors, aio.errors
