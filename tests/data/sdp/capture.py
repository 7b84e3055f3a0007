"""Regenerate the Chromium SDP fixtures in this directory.

    .venv/bin/python tests/data/sdp/capture.py

Drives headless Chromium (/usr/bin/chromium) with Playwright: two RTCPeerConnections in one page
exchange a data-channel-only and an audio+video offer/answer, each captured before ICE gathering
(no candidates) and after gathering completed (candidates in the SDP). Also records what
Chromium's RTCIceCandidate reports for each gathered candidate (fields and toJSON()) in
chromium_candidates.json, and a few constructor edge cases in chromium_rtcicecandidate.json.
Files are written byte-for-byte as Chromium produced them (CRLF line endings).
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import tempfile

from playwright.async_api import Route, async_playwright

HERE = pathlib.Path(__file__).resolve().parent
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
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]

PAGE = """<!doctype html><meta charset="utf-8"><title>sdp capture</title><script>
function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
}
const FIELDS = ["candidate", "sdpMid", "sdpMLineIndex", "usernameFragment", "foundation",
  "component", "priority", "address", "protocol", "port", "type", "tcpType",
  "relatedAddress", "relatedPort"];
function describe(c) {
  const out = {};
  for (const f of FIELDS) out[f] = c[f] === undefined ? null : c[f];
  out.toJSON = c.toJSON();
  return out;
}
async function run(media) {
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  const cands = [];
  a.addEventListener("icecandidate", (e) => { if (e.candidate) cands.push(describe(e.candidate)); });
  b.addEventListener("icecandidate", (e) => { if (e.candidate) cands.push(describe(e.candidate)); });
  if (media) {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
    for (const t of stream.getTracks()) a.addTrack(t, stream);
  } else {
    a.createDataChannel("chat");
  }
  const offer = await a.createOffer();
  await a.setLocalDescription(offer);
  await b.setRemoteDescription(offer);
  const answer = await b.createAnswer();
  await b.setLocalDescription(answer);
  await a.setRemoteDescription(answer);
  await Promise.all([gathered(a), gathered(b)]);
  const res = {offer: offer.sdp, answer: answer.sdp,
    offer_candidates: a.localDescription.sdp, answer_candidates: b.localDescription.sdp,
    candidates: cands};
  a.close(); b.close();
  return res;
}
function edgeCases() {
  const c = "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host generation 0 ufrag abcd";
  const out = {};
  const tries = {
    ufrag_from_line: {candidate: c, sdpMid: "0"},
    explicit_ufrag: {candidate: c, sdpMLineIndex: 0, usernameFragment: "zzzz"},
    empty: {candidate: "", sdpMid: "0"},
    garbage: {candidate: "candidate:garbage", sdpMid: "0"},
    tcp_so: {candidate: "candidate:2 2 tcp 1 192.0.2.1 9 typ host tcptype so", sdpMid: "1"},
    no_mid_no_index: {candidate: c},
    upper_udp_mdns: {candidate: "candidate:0 1 UDP 2122252543 9f4b8c2a-1d3e-4f5a-8b6c-7d9e0f1a2b3c.local 54609 typ host", sdpMid: "0"},
    v6_related: {candidate: "candidate:3 1 udp 1686052607 2001:db8::9 5000 typ srflx raddr 2001:db8::1 rport 6000", sdpMid: "0"},
    relay_tcp_passive: {candidate: "candidate:4 1 tcp 8331263 198.51.100.7 443 typ relay raddr 192.0.2.1 rport 9 tcptype passive", sdpMLineIndex: 2},
    prflx: {candidate: "candidate:5 1 udp 1845501695 192.0.2.77 40000 typ prflx raddr 10.0.0.1 rport 40000", sdpMid: "a1", sdpMLineIndex: 0},
    unknown_type: {candidate: "candidate:6 1 udp 1 192.0.2.1 5 typ weird", sdpMid: "0"},
    component_3: {candidate: "candidate:7 3 udp 1 192.0.2.1 5 typ host", sdpMid: "0"},
    with_a_prefix: {candidate: "a=candidate:8 1 udp 1 192.0.2.1 5 typ host", sdpMid: "0"},
  };
  for (const [name, init] of Object.entries(tries)) {
    try { out[name] = {init: init, result: describe(new RTCIceCandidate(init))}; }
    catch (e) { out[name] = {init: init, error: e.name}; }
  }
  return out;
}
</script>"""


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="rtcpeer-sdp-capture-") as profile:
        async with async_playwright() as p:
            ctx = await p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS
            )
            try:
                page = await ctx.new_page()

                async def serve(route: Route) -> None:
                    await route.fulfill(status=200, content_type="text/html", body=PAGE)

                # http://localhost is a secure context, so getUserMedia works.
                await page.route("http://localhost/**", serve)
                await page.goto("http://localhost/capture.html")
                version = await page.evaluate("navigator.userAgent")
                everything: dict[str, object] = {"userAgent": version}
                for name, media in (("datachannel", False), ("audio_video", True)):
                    res = await page.evaluate("(m) => run(m)", media)
                    for key in ("offer", "answer", "offer_candidates", "answer_candidates"):
                        fname = f"chromium_{name}_{key}.sdp"
                        (HERE / fname).write_bytes(res[key].encode("utf-8"))
                    everything[name] = res["candidates"]
                (HERE / "chromium_candidates.json").write_text(
                    json.dumps(everything, indent=1, sort_keys=True) + "\n"
                )
                edge = await page.evaluate("edgeCases()")
                (HERE / "chromium_rtcicecandidate.json").write_text(
                    json.dumps(edge, indent=1, sort_keys=True) + "\n"
                )
            finally:
                await ctx.close()


if __name__ == "__main__":
    asyncio.run(main())
