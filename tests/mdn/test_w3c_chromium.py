"""The W3C details rtcpeer copies from Chromium, checked against headless Chromium itself:
an RSA certificate (ECDHE-RSA) between rtcpeer and Chromium, both sides' RTCSctpTransport /
RTCDtlsTransport views of the same association, the setLocalDescription event order, the
RTCIceCandidate.toJSON() shape, and the error a malformed description gives."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from mdnhelpers import LOOPBACK, close_all, wait_for
from playwright.async_api import BrowserContext, async_playwright

from rtcpeer import RTCError, RTCIceCandidate, RTCPeerConnection

pytestmark = [pytest.mark.interop, pytest.mark.asyncio(loop_scope="module")]

ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

# Chromium answers the offer it is given (no trickle: it waits for gathering to complete),
# echoes every message on the channel it receives, and records what the test compares.
ANSWERER = r"""async (offer) => {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  window.order = [];
  window.echoed = [];
  pc.onsignalingstatechange = () => window.order.push("signaling:" + pc.signalingState);
  pc.onicegatheringstatechange = () => window.order.push("gathering:" + pc.iceGatheringState);
  pc.ondatachannel = (e) => {
    e.channel.onmessage = (m) => { window.echoed.push(m.data); e.channel.send(m.data); };
  };
  await pc.setRemoteDescription(offer);
  window.order = [];
  await pc.setLocalDescription();
  if (pc.iceGatheringState !== "complete") {
    await new Promise((r) => pc.addEventListener("icegatheringstatechange",
      () => { if (pc.iceGatheringState === "complete") r(); }));
  }
  return pc.localDescription.toJSON();
}"""

REMOTE_VIEW = r"""() => {
  const sctp = window.pc.sctp;
  const der = new Uint8Array(sctp.transport.getRemoteCertificates()[0]);
  let bin = "";
  for (const b of der) bin += String.fromCharCode(b);
  return {state: sctp.state, maxMessageSize: sctp.maxMessageSize,
          dtls: sctp.transport.state, ice: sctp.transport.iceTransport.state,
          role: sctp.transport.iceTransport.role, cert: btoa(bin)};
}"""

PROBES = r"""async () => {
  const out = {};
  const pc = new RTCPeerConnection();
  try { await pc.setRemoteDescription({type: "offer", sdp: "v=0\r\nthis is not sdp\r\n"}); }
  catch (e) { out.error = e.name; }
  out.json = new RTCIceCandidate(
    {candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host", sdpMid: "0"}).toJSON();
  const order = [];
  const pc2 = new RTCPeerConnection();
  pc2.onsignalingstatechange = () => order.push("signaling");
  pc2.onicegatheringstatechange = () => order.push("gathering");
  pc2.createDataChannel("x");
  await pc2.setLocalDescription();
  for (let i = 0; i < 200 && order.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  out.order = order.slice(0, 2);
  pc.close();
  pc2.close();
  return out;
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[BrowserContext]:
    with tempfile.TemporaryDirectory(prefix="rtcpeer-w3c-chromium-") as profile:
        async with async_playwright() as p:
            context = await p.chromium.launch_persistent_context(
                profile, executable_path="/usr/bin/chromium", headless=True, args=ARGS
            )
            try:
                yield context
            finally:
                await context.close()


async def test_rsa_certificate_and_transports_with_chromium(browser: BrowserContext) -> None:
    """rtcpeer offers with an RSASSA-PKCS1-v1_5 certificate (DTLS server: Chromium answers
    "active"), Chromium answers; the channel echoes. Chromium's RTCDtlsTransport reports our
    RSA certificate, ours reports Chromium's; both RTCSctpTransports are "connected"; and
    Chromium, like rtcpeer, fires signalingstatechange before icegatheringstatechange."""
    cert = await RTCPeerConnection.generateCertificate(
        {
            "name": "RSASSA-PKCS1-v1_5",
            "modulusLength": 2048,
            "publicExponent": bytes([1, 0, 1]),
            "hash": "SHA-256",
        }
    )
    page = await browser.new_page()
    pc = RTCPeerConnection({**LOOPBACK, "certificates": [cert]})
    try:
        channel = pc.createDataChannel("rsa")
        got: list[Any] = []
        channel.addEventListener("message", lambda e: got.append(e.data))
        await pc.setLocalDescription()
        await wait_for(lambda: pc.iceGatheringState == "complete")
        assert pc.localDescription is not None
        answer = await page.evaluate(ANSWERER, pc.localDescription.toJSON())
        assert "a=setup:active" in answer["sdp"]
        await pc.setRemoteDescription(answer)
        await wait_for(lambda: channel.readyState == "open")
        channel.send("over RSA")
        await wait_for(lambda: got == ["over RSA"])

        view = await page.evaluate(REMOTE_VIEW)
        assert base64.b64decode(view["cert"]) == cert.der
        # (Chromium's iceTransport.role is null here; rtcpeer reports the W3C value.)
        assert (view["state"], view["dtls"]) == ("connected", "connected")
        assert view["ice"] in ("connected", "completed")
        assert view["maxMessageSize"] == 262144  # what our a=max-message-size announces
        sctp: Any = pc.sctp
        assert (sctp.state, sctp.transport.state) == ("connected", "connected")
        assert sctp.maxMessageSize == 262144  # Chromium announces 262144 as well
        (theirs,) = sctp.transport.getRemoteCertificates()
        assert theirs and theirs != cert.der
        order = await page.evaluate("() => window.order")
        assert order[:2] == ["signaling:stable", "gathering:gathering"]
    finally:
        await close_all(pc)
        await page.close()


async def test_chromium_shapes_rtcpeer_copies(browser: BrowserContext) -> None:
    """RTCIceCandidate.toJSON() gives Chromium's exact dictionary (docs/mdn.md explains the
    deviation from the WebIDL default); a malformed description is an "OperationError" in
    both (rtcpeer's RTCError adds errorDetail and sdpLineNumber); setLocalDescription(offer)
    fires signalingstatechange before icegatheringstatechange in both."""
    page = await browser.new_page()
    try:
        chromium = await page.evaluate(PROBES)
    finally:
        await page.close()
    cand = RTCIceCandidate({"candidate": "candidate:1 1 udp 1 192.0.2.1 9 typ host", "sdpMid": "0"})
    assert cand.toJSON() == chromium["json"]
    pc = RTCPeerConnection()
    with pytest.raises(RTCError) as info:
        await pc.setRemoteDescription({"type": "offer", "sdp": "v=0\r\nthis is not sdp\r\n"})
    assert info.value.name == chromium["error"] == "OperationError"
    pc.close()
    assert chromium["order"] == ["signaling", "gathering"]
    order: list[str] = []
    ours = RTCPeerConnection(LOOPBACK)
    ours.addEventListener("signalingstatechange", lambda e: order.append("signaling"))
    ours.addEventListener("icegatheringstatechange", lambda e: order.append("gathering"))
    ours.createDataChannel("x")
    await ours.setLocalDescription()
    await wait_for(lambda: len(order) >= 2)
    assert order[:2] == chromium["order"]
    await close_all(ours)
