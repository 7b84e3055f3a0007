"""Media over RTCPeerConnection against headless Chromium (fake camera and microphone).

Both sides run MDN's perfect negotiation (tests/interop/page.html plus a media script).
"browser-first": the browser adds its getUserMedia tracks; its offer creates recvonly
transceivers on the Python side, whose track events give decoded frames; Python then adds a
test pattern and a tone mid-call (addTrack reuses those transceivers, now sendrecv),
negotiationneeded fires and Python's re-offer is answered. "python-first": the other way
round. Either way the page must decode Python's video (getStats framesDecoded) and Python the
page's audio and video; in "python-first", 5 % of the video RTP is then dropped each way and
must be repaired by NACK/RTX both ways. Both also check that every common codec is
negotiated and the RFC 6464 audio level each way (getSynchronizationSources). Then
web/call.html calls examples/video_call.py through the signaling server, and a Chromium
re-offer with H.264 first (setCodecPreferences) switches both directions from VP8 mid-call.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import pytest

pytest.importorskip("av")
pytest.importorskip("pylibsrtp")
pytest.importorskip("playwright")

from chromium_harness import ARGS, PAGE, Session, chromium

from rtcpeer import MediaStream, RTCPeerConnection
from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

MEDIA_ARGS = [
    *ARGS,
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]

MEDIA_SCRIPT = """<video id=v autoplay muted playsinline></video><script>
window.remoteTracks = [];
window.setupMedia = () => {
  pc.ontrack = ({ track, streams }) => {
    window.remoteTracks.push(track.kind + ":" + (streams[0] ? streams[0].id : "-"));
    if (track.kind === "video") {
      const v = document.getElementById("v");
      v.srcObject = streams[0] || new MediaStream([track]);
      v.play().catch(() => {});
    }
  };
};
window.addMedia = async () => {
  const stream = await navigator.mediaDevices.getUserMedia(
    { video: { width: 320, height: 240, frameRate: 30 }, audio: true });
  for (const t of stream.getTracks()) pc.addTrack(t, stream);
};
window.audioSources = () => pc.getReceivers()
  .filter(r => r.track.kind === "audio")
  .map(r => r.getSynchronizationSources().map(s => ({ level: s.audioLevel, ssrc: s.source })))
  .flat();
window.decoded = async () => {
  let n = 0;
  (await pc.getStats()).forEach(s => {
    if (s.type === "inbound-rtp" && s.kind === "video") n += s.framesDecoded || 0;
  });
  return n;
};
</script>"""


async def wait_until(predicate: Any, timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def browser_decodes(page: Any, count: int, timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    decoded = 0
    while loop.time() < end:
        decoded = await page.evaluate("() => window.decoded()")
        if decoded >= count:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"Chromium decoded {decoded} of Python's video frames")


async def repaired_under_loss(pc: RTCPeerConnection, loss: float = 0.05) -> None:
    """Drop ``loss`` of the video RTP each way: Chromium's NACKs must be answered by our RTX
    (a=ssrc-group:FID in our SDP) and ours by Chromium's."""
    conn = pc._conn
    assert conn is not None and conn.on_rtp is not None
    video = next(t for t in pc.getTransceivers() if t.kind == "video")
    assert video.send_codec is not None
    pt = video.send_codec.payload_type
    rng = random.Random(5)

    def lost(data: bytes) -> bool:
        return data[1] & 0x7F == pt and 127 < data[0] < 192 and rng.random() < loss

    send, receive = conn.ice.send, conn.on_rtp
    conn.ice.send = lambda data: True if lost(data) else send(data)  # type: ignore[method-assign]
    conn.on_rtp = lambda data: None if lost(data) else receive(data)
    try:
        for _ in range(150):
            stats = await pc.getStats()
            out = next(
                v for v in stats.values() if v["type"] == "outbound-rtp" and v["kind"] == "video"
            )
            inb = next(
                v for v in stats.values() if v["type"] == "inbound-rtp" and v["kind"] == "video"
            )
            if (
                out["nackCount"]
                and out["retransmittedPacketsSent"]
                and inb["nackCount"]
                and inb["retransmittedPacketsReceived"]
            ):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"no NACK/RTX repair: out {out} in {inb}")
    finally:
        conn.ice.send, conn.on_rtp = send, receive  # type: ignore[method-assign]


@pytest.mark.parametrize("python_first", [False, True], ids=["browser-first", "python-first"])
async def test_browser_and_python_exchange_media(python_first: bool) -> None:
    async with chromium(MEDIA_ARGS) as browser:
        page = await browser.new_page()
        holder: dict[str, Session] = {}
        await page.expose_function("pySignal", lambda text: holder["s"].to_py.put_nowait(text))
        # getUserMedia needs a secure context: serve the page as http://localhost/
        await page.route(
            "http://localhost/media.html",
            lambda route: route.fulfill(body=PAGE + MEDIA_SCRIPT, content_type="text/html"),
        )
        await page.goto("http://localhost/media.html")
        pc = RTCPeerConnection({"includeLoopback": True})
        s = Session(page, pc, polite=True)
        holder["s"] = s
        frames = {"audio": 0, "video": 0}
        events: list[Any] = []
        readers: list[asyncio.Task[None]] = []

        async def read(track: Any) -> None:
            while True:
                await track.recv()
                frames[track.kind] += 1

        def on_track(event: Any) -> None:
            events.append(event)
            readers.append(asyncio.ensure_future(read(event.track)))

        pc.addEventListener("track", on_track)
        try:
            await page.evaluate("() => { window.start(false); window.setupMedia(); }")
            stream = MediaStream()
            if python_first:
                # 1. Python offers a test pattern and a tone; the page answers (recvonly).
                pc.addTrack(VideoTestTrack(320, 240), stream)
                pc.addTrack(AudioToneTrack(), stream)
                await browser_decodes(page, 30)
                # 2. The browser adds its camera and microphone mid-call and re-offers.
                await page.evaluate("() => window.addMedia()")
                await wait_until(lambda: frames["video"] >= 30 and frames["audio"] >= 30, 20)
            else:
                # 1. The browser offers its camera and microphone; Python answers (recvonly).
                await page.evaluate("() => window.addMedia()")
                await wait_until(lambda: frames["video"] >= 30 and frames["audio"] >= 30, 20)
                assert [t.currentDirection for t in pc.getTransceivers()] == ["recvonly"] * 2
                # 2. Python adds its tracks mid-call: addTrack reuses the recvonly
                # transceivers and perfect negotiation renegotiates.
                pc.addTrack(VideoTestTrack(320, 240), stream)
                pc.addTrack(AudioToneTrack(), stream)
                assert len(pc.getTransceivers()) == 2
                await browser_decodes(page, 30)
            await wait_until(
                lambda: [t.currentDirection for t in pc.getTransceivers()] == ["sendrecv"] * 2
            )
            if python_first:
                await repaired_under_loss(pc)
            assert {e.track.kind for e in events} == {"audio", "video"}
            assert all(e.streams and e.streams[0].id for e in events)
            remote = await page.evaluate("() => window.remoteTracks")
            assert sorted(remote) == [f"audio:{stream.id}", f"video:{stream.id}"]
            stats = await pc.getStats()
            inbound = {v["kind"]: v for v in stats.values() if v["type"] == "inbound-rtp"}
            outbound = {v["kind"]: v for v in stats.values() if v["type"] == "outbound-rtp"}
            assert inbound["video"]["framesDecoded"] >= 30
            assert inbound["audio"]["packetsReceived"] > 0
            assert outbound["video"]["bytesSent"] > 0 and outbound["audio"]["packetsSent"] > 0
            # Every common codec is negotiated (not only the one in use), both ways.
            local, remote_sdp = pc.localDescription, pc.remoteDescription
            assert local is not None and remote_sdp is not None
            for sdp in (local.sdp, remote_sdp.sdp):
                video_line = next(x for x in sdp.splitlines() if x.startswith("m=video"))
                assert len(video_line.split()) > 5, video_line  # VP8 + rtx + more
            # RFC 6464 audio level both ways: Chromium's in our getSynchronizationSources,
            # ours (a loud tone) in Chromium's.
            audio_rx = next(r for r in pc.getReceivers() if r.track.kind == "audio")
            (source,) = audio_rx.getSynchronizationSources()
            assert 0.0 <= source["audioLevel"] <= 1.0
            assert isinstance(source["rtpTimestamp"], int) and source["timestamp"] > 0
            browser_sources = await page.evaluate("() => window.audioSources()")
            assert browser_sources and browser_sources[0]["level"] > 0.05, browser_sources
            errors = [e for e in await page.evaluate("() => window.events") if "error" in e]
            assert not errors, errors
        finally:
            for task in readers:
                task.cancel()
            await s.close()


async def test_call_page_with_python_peer() -> None:
    """web/call.html (the signaling issue's video call page) with examples/video_call.py."""
    import os
    import sys

    from rtcpeer.signaling.server import run_server

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
    import video_call

    server = await run_server("127.0.0.1", 0)
    call = video_call.Call()
    try:
        python = asyncio.ensure_future(
            video_call.run(server.ws_url, "callroom", 30.0, None, call=call)
        )
        async with chromium(MEDIA_ARGS) as browser:
            page = await browser.new_page()
            await page.goto(f"{server.url}/static/call.html?room=callroom")
            await page.click("#start")
            # the browser shows Python's video ...
            await page.wait_for_function(
                "() => { const v = document.getElementById('remote');"
                " return v.srcObject && v.getVideoPlaybackQuality().totalVideoFrames >= 30; }",
                timeout=15000,
            )
            width = await page.evaluate("() => document.getElementById('remote').videoWidth")
            assert width == 320
            # ... and Python receives the browser's camera and microphone
            await wait_until(lambda: call.frames["video"] >= 30 and call.frames["audio"] >= 30)
        python.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await python
    finally:
        await server.close()


SWITCH_SCRIPT = """<script>
window.switchToH264 = async () => {
  const caps = RTCRtpReceiver.getCapabilities("video").codecs;
  const h264 = caps.filter(c => c.mimeType === "video/H264");
  if (!h264.length) return false;
  const video = pc.getTransceivers().find(t => t.receiver.track.kind === "video");
  video.setCodecPreferences([...h264, ...caps.filter(c => c.mimeType !== "video/H264")]);
  await pc.onnegotiationneeded();  // setCodecPreferences alone does not renegotiate
  return true;
};
window.videoCodecs = async () => {
  const stats = await pc.getStats();
  const out = {};
  stats.forEach(s => {
    if ((s.type === "inbound-rtp" || s.type === "outbound-rtp") && s.kind === "video") {
      const codec = stats.get(s.codecId);
      out[s.type] = { codec: codec ? codec.mimeType : null, frames: s.framesDecoded || 0 };
    }
  });
  return out;
};
</script>"""


async def test_browser_reoffer_switches_the_codec_mid_call() -> None:
    """Chromium re-offers with H.264 first (setCodecPreferences): Python's answer follows,
    both sides switch from VP8 to H.264 and keep decoding each other's video."""
    from rtcpeer.rtp.codecs.encoders import h264_encoder_available

    if not h264_encoder_available():
        pytest.skip("the installed FFmpeg has no H.264 encoder")
    async with chromium(MEDIA_ARGS) as browser:
        page = await browser.new_page()
        holder: dict[str, Session] = {}
        await page.expose_function("pySignal", lambda text: holder["s"].to_py.put_nowait(text))
        await page.route(
            "http://localhost/media.html",
            lambda route: route.fulfill(
                body=PAGE + MEDIA_SCRIPT + SWITCH_SCRIPT, content_type="text/html"
            ),
        )
        await page.goto("http://localhost/media.html")
        pc = RTCPeerConnection({"includeLoopback": True})
        s = Session(page, pc, polite=True)
        holder["s"] = s
        frames: list[Any] = []
        readers: list[asyncio.Task[None]] = []

        async def read(track: Any) -> None:
            while True:
                frames.append(await track.recv())

        def on_track(event: Any) -> None:
            if event.track.kind == "video":
                readers.append(asyncio.ensure_future(read(event.track)))

        pc.addEventListener("track", on_track)
        try:
            await page.evaluate("() => { window.start(false); window.setupMedia(); }")
            await page.evaluate("() => window.addMedia()")
            await wait_until(lambda: len(frames) >= 10, 20)
            pc.addTrack(VideoTestTrack(320, 240))
            await browser_decodes(page, 10)
            video = next(t for t in pc.getTransceivers() if t.kind == "video")
            assert video.send_codec is not None and video.send_codec.name == "VP8"
            base = await page.evaluate("() => window.decoded()")
            if not await page.evaluate("() => window.switchToH264()"):
                pytest.skip("this Chromium has no H.264")
            await wait_until(
                lambda: video.send_codec is not None and video.send_codec.name == "H264", 10
            )
            before = len(frames)
            await wait_until(lambda: len(frames) >= before + 30, 20)
            rt = pc._media._runtime[id(video)]
            assert rt.rx_codec is not None and rt.rx_codec.name == "H264"
            for _ in range(80):
                codecs = await page.evaluate("() => window.videoCodecs()")
                inbound = codecs.get("inbound-rtp", {})
                if inbound.get("codec") == "video/H264" and inbound.get("frames", 0) >= base + 30:
                    break
                await asyncio.sleep(0.25)
            assert codecs["inbound-rtp"]["codec"] == "video/H264", codecs
            assert codecs["outbound-rtp"]["codec"] == "video/H264", codecs
            assert codecs["inbound-rtp"]["frames"] >= base + 30, (base, codecs)
            errors = [e for e in await page.evaluate("() => window.events") if "error" in e]
            assert not errors, errors
        finally:
            for task in readers:
                task.cancel()
            await s.close()
