"""NAT rebinding mid-call: the address peer B has as seen by peer A changes (the relay moves
its A-facing socket to a new port and closes the old one, as a NAT whose mapping expired).
Perfect negotiation plus restartIce() recovers the connection and no message is lost."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from relay import DatagramRelay
from relhelpers import FakeSignaler, close_all, event_future, new_pc, wait_for

from rtcpeer.signaling.negotiation import PerfectNegotiation


async def test_nat_rebinding_recovers_through_ice_restart() -> None:
    relay = await DatagramRelay(seed=5).start()
    a, b = new_pc(), new_pc()
    sig_a, sig_b = FakeSignaler.pair(relay)
    neg_a = PerfectNegotiation(a, sig_a, polite=False)
    neg_b = PerfectNegotiation(b, sig_b, polite=True)
    # What apps do besides MDN's restart on "failed": restart as soon as ICE disconnects.
    restarts: list[float] = []

    def on_ice(pc: Any) -> None:
        if pc.iceConnectionState == "disconnected":
            restarts.append(time.monotonic())
            pc.restartIce()

    a.addEventListener("iceconnectionstatechange", lambda e: on_ice(a))
    try:
        remote_ev = event_future(b, "datachannel")
        dc = a.createDataChannel("chat")
        await wait_for(lambda: dc.readyState == "open", 10)
        remote = (await asyncio.wait_for(remote_ev, 5)).channel
        got: list[Any] = []
        remote.addEventListener("message", lambda e: got.append(e.data))
        back: list[Any] = []
        dc.addEventListener("message", lambda e: back.append(e.data))
        dc.send("before")
        await wait_for(lambda: got == ["before"], 5)
        first_ufrag = a.localDescription.sdp if a.localDescription else ""

        t0 = time.monotonic()
        old = relay.facing("a")
        new = await relay.rebind("a")
        assert new != old
        for i in range(20):
            dc.send(f"during {i}")  # queued or retransmitted until the path is back
            await asyncio.sleep(0.01)

        await wait_for(lambda: len(got) == 21, 30)
        recovered = time.monotonic() - t0
        assert got == ["before"] + [f"during {i}" for i in range(20)]
        assert restarts or neg_a.restarts or neg_b.restarts
        assert a.localDescription is not None and a.localDescription.sdp != first_ufrag
        remote.send("after")
        await wait_for(lambda: back == ["after"], 5)
        assert a.connectionState == "connected" and b.connectionState == "connected"
        assert not [e for e in neg_a.errors + neg_b.errors if "rollback" not in str(e)]
        print(f"NAT rebinding: recovered in {recovered:.2f}s")
    finally:
        neg_a.close()
        neg_b.close()
        await close_all(a, b)
        relay.close()


async def test_data_resumes_promptly_once_ice_has_a_new_path() -> None:
    """After a NAT rebinding and ICE restart, data queued during the outage goes out as soon
    as ICE selects the new pair (Connection.selected_pair_changed -> Association.path_changed),
    not at SCTP's backed-off retransmission timer (0.2, 0.4, ... 6.4 s: ~6 s late before)."""
    relay = await DatagramRelay(seed=5).start()
    a, b = new_pc(), new_pc()
    sig_a, sig_b = FakeSignaler.pair(relay)
    neg_a = PerfectNegotiation(a, sig_a, polite=False)
    neg_b = PerfectNegotiation(b, sig_b, polite=True)
    back_at: list[float] = []

    def on_ice() -> None:
        if a.iceConnectionState == "disconnected":
            a.restartIce()
        elif a.iceConnectionState == "connected" and not back_at:
            back_at.append(time.monotonic())

    try:
        remote_ev = event_future(b, "datachannel")
        dc = a.createDataChannel("chat")
        await wait_for(lambda: dc.readyState == "open", 10)
        remote = (await asyncio.wait_for(remote_ev, 5)).channel
        a.addEventListener("iceconnectionstatechange", lambda e: on_ice())
        got: list[float] = []
        remote.addEventListener("message", lambda e: got.append(time.monotonic()))
        await relay.rebind("a")
        dc.send("during the outage")
        await wait_for(lambda: bool(got), 30)
        assert back_at
        delay = got[0] - back_at[0]
        assert delay < 2.0, f"delivered {delay:.1f}s after ICE"
        print(f"NAT rebinding: data delivered {delay:.2f}s after ICE reconnected")
    finally:
        neg_a.close()
        neg_b.close()
        await close_all(a, b)
        relay.close()
