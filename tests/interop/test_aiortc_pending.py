"""rtcpeer against aiortc: cases that fail today because of rtcpeer, kept apart so the rest of
the aiortc suite (which works around them) stays green. Each names the layer and the message.

1. test_no_oversized_records_after_connect: rtcpeer.aio.connection (``_maybe_probe_mtu``,
   ``LOOPBACK_MTU = 16384``) calls ``Association.probe_mtu`` as soon as SCTP is up on a
   same-host pair (remote address loopback or equal to ours, as here: 192.0.2.2 or fd00::2 on
   both ends). That sends one 16384-byte SCTP packet (HEARTBEAT + PAD, RFC 8899 6.2.1) in one
   DTLS record, right after COOKIE ACK. aiortc (rtcdtlstransport.py ``_recv_next``) reads
   every record with ``SSL.recv(1500)``: the other 14,884 bytes stay in OpenSSL's buffer and
   each later read returns stale bytes, which fail SCTP's CRC and are dropped. From then on
   nothing rtcpeer sends (DCEP DATA_CHANNEL_OPEN, DATA, SACK) is understood: both sides say
   "connected", no channel ever opens. The same build also fails test_pc_chromium's
   python_offers/chromium_offers, which pass with the probe disabled. Fix (owner of
   rtcpeer.aio.connection / rtcpeer.sctp): never send an SCTP packet whose DTLS record
   exceeds ~1200 bytes unless the peer is known to take it (drop the loopback probe, or make
   it opt-in); probing is not harmless when the probe itself breaks the receiver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiortc_harness import AiortcProcess, Link, echo_round_trip, opened, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def aio() -> AsyncIterator[AiortcProcess]:
    proc = await AiortcProcess.start()
    try:
        yield proc
    finally:
        await proc.close()


@pytest.mark.parametrize("offerer", ["rtcpeer", "aiortc"])
async def test_no_oversized_records_after_connect(aio: AiortcProcess, offerer: str) -> None:
    link = await Link(aio).setup()
    try:
        if offerer == "rtcpeer":
            channel = link.pc.createDataChannel("echo-probe")
            await link.negotiate(offerer)
        else:
            await link.aio_channel("echo-probe")
            await link.negotiate(offerer)
            await wait_until(lambda: "echo-probe" in link.channels, 5, "datachannel")
            channel = link.channels["echo-probe"]
        await opened(channel, timeout=5)
        await link.aio_event("open" if offerer == "aiortc" else "datachannel", timeout=5)
        assert await echo_round_trip(channel, ["after connect"], timeout=5) == ["after connect"]
    finally:
        await link.close()
