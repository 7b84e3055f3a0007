"""Live check against headless Chromium: fresh SDP round-trips, SDP we write is accepted, and
RTCIceCandidate agrees with Chromium's on freshly gathered candidates."""

from __future__ import annotations

import importlib.util
import pathlib
import tempfile
from typing import Any

import pytest
from playwright.async_api import Route, async_playwright

from rtcpeer.sdp import Candidate, RTCIceCandidate, SessionDescription

pytestmark = pytest.mark.interop

_spec = importlib.util.spec_from_file_location(
    "sdp_capture",
    pathlib.Path(__file__).resolve().parent.parent / "data" / "sdp" / "capture.py",
)
assert _spec is not None and _spec.loader is not None
capture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(capture)

ACCEPT = """async (offer) => {
  const pc = new RTCPeerConnection();
  await pc.setRemoteDescription({type: "offer", sdp: offer});
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  const mid = pc.getTransceivers().map((t) => t.mid);
  pc.close();
  return {answer: answer.sdp, mids: mid};
}"""

FIELDS = capture.PAGE.split("const FIELDS = [")[1].split("];")[0]


def describe(ic: RTCIceCandidate) -> dict[str, Any]:
    names = [f.strip().strip('"') for f in FIELDS.replace("\n", " ").split(",")]
    out: dict[str, Any] = {n: getattr(ic, n) for n in names}
    out["toJSON"] = ic.toJSON()
    return out


async def test_against_live_chromium() -> None:
    with tempfile.TemporaryDirectory(prefix="rtcpeer-sdp-") as profile:
        async with async_playwright() as p:
            ctx = await p.chromium.launch_persistent_context(
                profile, executable_path=capture.CHROMIUM, headless=True, args=capture.ARGS
            )
            try:
                page = await ctx.new_page()

                async def serve(route: Route) -> None:
                    await route.fulfill(status=200, content_type="text/html", body=capture.PAGE)

                await page.route("http://localhost/**", serve)
                await page.goto("http://localhost/capture.html")
                results = {
                    "datachannel": await page.evaluate("(m) => run(m)", False),
                    "audio_video": await page.evaluate("(m) => run(m)", True),
                }
                for res in results.values():
                    for key in ("offer", "answer", "offer_candidates", "answer_candidates"):
                        text = res[key]
                        desc = SessionDescription.parse(text)
                        assert desc.to_sdp() == text
                        for m in desc.media:
                            assert m.ice_ufrag and m.ice_pwd and m.fingerprints and m.mid
                            for c in m.candidates:
                                assert Candidate.from_sdp(c.to_sdp()) == c
                    assert res["candidates"]
                    for entry in res["candidates"]:
                        assert describe(RTCIceCandidate(entry["toJSON"])) == entry
                        cand = Candidate.from_sdp(entry["candidate"])
                        assert cand.to_sdp() == entry["candidate"]

                # SDP we rewrite (new credentials, an unknown attribute, candidates re-added
                # through the typed API) is accepted by Chromium.
                for res in results.values():
                    desc = SessionDescription.parse(res["offer_candidates"])
                    desc.add("x-rtcpeer-test", "1")
                    for i, m in enumerate(desc.media):
                        m.ice_ufrag = f"rtcp{i}"
                        m.ice_pwd = "rtcpeerrtcpeerrtcpeer0"
                        cands = m.candidates
                        m.remove("candidate")
                        for c in cands:
                            m.add_candidate(c)
                        m.end_of_candidates = True
                    out = await page.evaluate(ACCEPT, desc.to_sdp())
                    assert out["mids"] == [m.mid for m in desc.media if m.kind != "application"]
                    answer = SessionDescription.parse(out["answer"])
                    assert [m.mid for m in answer.media] == [m.mid for m in desc.media]
                    assert all(m.setup == "active" for m in answer.media)
            finally:
                await ctx.close()
