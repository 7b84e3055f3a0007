"""Headless Chromium relays a data channel through the embedded TURN server: two browser
RTCPeerConnections with iceTransportPolicy "relay" (every candidate pair is relay-relay),
over TURN/UDP and TURN/TCP, with static and REST API credentials."""

from __future__ import annotations

import tempfile
import time
from typing import Any

import pytest
from playwright.async_api import Route, async_playwright

from rtcpeer.turnserver import TurnServer, rest_credentials

pytestmark = pytest.mark.interop

CHROMIUM = "/usr/bin/chromium"
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
]

PAGE = """<!doctype html><html><body><script>
async function relayChat(iceServers) {
  const config = {iceServers, iceTransportPolicy: "relay"};
  const a = new RTCPeerConnection(config), b = new RTCPeerConnection(config);
  const types = {a: [], b: []};
  const errors = [];
  for (const [pc, other, name] of [[a, b, "a"], [b, a, "b"]]) {
    pc.onicecandidate = (e) => {
      if (e.candidate) { types[name].push(e.candidate.type); other.addIceCandidate(e.candidate); }
    };
    pc.onicecandidateerror = (e) => errors.push(e.errorCode + " " + e.errorText);
  }
  const received = new Promise((resolve) => {
    b.ondatachannel = (e) => { e.channel.onmessage = (m) => resolve(m.data); };
  });
  const ch = a.createDataChannel("chat");
  const opened = new Promise((resolve) => { ch.onopen = resolve; });
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
  const timeout = new Promise((_, reject) => setTimeout(() => reject(
      new Error("timeout " + JSON.stringify({types, errors, state: a.iceConnectionState}))), 8000));
  await Promise.race([opened, timeout]);
  ch.send("hello through TURN");
  const text = await Promise.race([received, timeout]);
  const stats = await a.getStats();
  let pair = null, local = null;
  stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
  if (pair) local = stats.get(pair.localCandidateId);
  a.close(); b.close();
  return {text, types, errors, localType: local && local.candidateType,
          relayProtocol: local && local.relayProtocol};
}
</script></body></html>"""


async def run_in_chromium(ice_servers: list[dict[str, Any]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rtcpeer-turn-") as profile:
        async with async_playwright() as p:
            ctx = await p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS
            )
            try:
                page = await ctx.new_page()

                async def serve(route: Route) -> None:
                    await route.fulfill(status=200, content_type="text/html", body=PAGE)

                await page.route("http://localhost/**", serve)
                await page.goto("http://localhost/turn.html")
                result: dict[str, Any] = await page.evaluate("(s) => relayChat(s)", ice_servers)
                return result
            finally:
                await ctx.close()


async def test_chromium_data_channel_through_embedded_turn() -> None:
    secret = "browser-secret"
    async with TurnServer(
        "rtcpeer.test", users={"web": "pass"}, auth_secret=secret, listen=("127.0.0.1", 0)
    ) as server:
        port = server.port
        assert port is not None and server.tcp_address is not None
        assert server.tcp_address[1] == port
        username, credential = rest_credentials(secret, "browser", int(time.time()) + 600)
        udp = await run_in_chromium(
            [{"urls": f"turn:127.0.0.1:{port}", "username": "web", "credential": "pass"}]
        )
        assert udp["text"] == "hello through TURN"
        assert set(udp["types"]["a"]) == {"relay"} and set(udp["types"]["b"]) == {"relay"}
        assert udp["localType"] == "relay"
        assert udp["relayProtocol"] == "udp"
        tcp = await run_in_chromium(
            [
                {
                    "urls": f"turn:127.0.0.1:{port}?transport=tcp",
                    "username": username,
                    "credential": credential,
                }
            ]
        )
        assert tcp["text"] == "hello through TURN"
        assert tcp["localType"] == "relay"
        assert tcp["relayProtocol"] == "tcp"
        # Both browsers' traffic went through our relays (4 allocations were made).
        assert server.core.stats["relayed_out"] > 0 and server.core.stats["relayed_in"] > 0
