"""The media layer against headless Chromium, before RTCPeerConnection carries media.

A hand-written offer (BUNDLE of one VP8+RTX video and one Opus audio m-section) goes to the
page, which answers with its fake camera and microphone. Python runs ICE (rtcpeer.aio.ice),
DTLS-SRTP (rtcpeer.dtls) and one RtpSession; it sends a generated test pattern and tone and
decodes what the browser sends. Both sides must decode at least 30 video frames; Python also
30 audio frames. This checks the wire details (VP8 descriptor, SRTP keying, RTCP feedback,
header extensions) that the peer connection will rely on.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
from typing import Any

import pytest

from rtcpeer.aio.ice import IceTransport
from rtcpeer.dtls.certificate import RTCCertificate
from rtcpeer.dtls.transport import DtlsConnected, DtlsCore
from rtcpeer.media import NullSink, RemoteStreamTrack
from rtcpeer.media.pipeline import RtpMediaReceiver, RtpMediaSender
from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack
from rtcpeer.rtp.codecs import AUDIO_CODECS, VIDEO_CODECS, RtpCodec, rtx_codec
from rtcpeer.rtp.codecs.encoders import (
    AudioDecoder,
    OpusEncoder,
    VideoDecoder,
    VideoEncoder,
    h264_encoder_available,
)
from rtcpeer.rtp.packet import EXT_MID, EXT_TRANSPORT_CC, is_rtcp
from rtcpeer.rtp.receiver import RtpReceiverCore
from rtcpeer.rtp.sender import RtpSenderCore
from rtcpeer.rtp.session import RtpSession
from rtcpeer.sdp.candidate import Candidate

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

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
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]

PAGE = """<!doctype html><video id=v autoplay muted playsinline></video><script>
window.answer = async (offer) => {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  pc.ontrack = (e) => {
    if (e.track.kind === 'audio') {
      // headless Chromium has no audio device: without a WebAudio sink nothing pulls the
      // remote audio out of the jitter buffer, so nothing would be decoded
      const a = new Audio();
      a.srcObject = new MediaStream([e.track]);
      a.muted = true;
      a.play().catch(() => {});
      window.actx = new AudioContext();
      window.actx.createMediaStreamSource(new MediaStream([e.track]))
        .connect(window.actx.destination);
      window.actx.resume();
    }
    if (e.track.kind === 'video') {
      const v = document.getElementById('v');
      v.srcObject = new MediaStream([e.track]);
      v.play().catch(() => {});
    }
  };
  await pc.setRemoteDescription({type: 'offer', sdp: offer});
  const stream = await navigator.mediaDevices.getUserMedia(
    {video: {width: 320, height: 240, frameRate: 30}, audio: true});
  for (const t of stream.getTracks()) pc.addTrack(t, stream);
  await pc.setLocalDescription(await pc.createAnswer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise(r => pc.addEventListener('icegatheringstatechange',
      () => pc.iceGatheringState === 'complete' && r()));
  }
  return pc.localDescription.sdp;
};
window.decoded = async () => {
  const n = {video: 0, audio: 0};
  (await window.pc.getStats()).forEach(s => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'video') n.video += s.framesDecoded || 0;
    // samples decoded from packets (not concealment), in 20 ms Opus frames
    else n.audio += Math.floor(((s.totalSamplesReceived || 0) - (s.concealedSamples || 0)) / 960);
  });
  return n;
};
</script>"""

EXT_IDS = {EXT_MID: 1, EXT_TRANSPORT_CC: 3}


def build_offer(ice: IceTransport, fingerprint: str, video: RtpCodec) -> str:
    opus = AUDIO_CODECS[0]
    pt = video.payload_type
    rtx = rtx_codec(video, 97)
    common = [
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        f"a=ice-ufrag:{ice.local_ufrag}",
        f"a=ice-pwd:{ice.local_pwd}",
        f"a=fingerprint:sha-256 {fingerprint}",
        "a=setup:actpass",
    ]
    exts = [f"a=extmap:{i} {uri}" for uri, i in EXT_IDS.items()]
    cands = [f"a={c.to_sdp()}" for c in ice.local_candidates] + ["a=end-of-candidates"]
    lines = [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=msid-semantic: WMS py",
        f"m=video 9 UDP/TLS/RTP/SAVPF {pt} 97",
        *common,
        "a=mid:0",
        *exts,
        "a=sendrecv",
        "a=msid:py v0",
        "a=rtcp-mux",
        "a=rtcp-rsize",
        f"a=rtpmap:{video.rtpmap}",
        *([f"a=fmtp:{video.fmtp}"] if video.fmtp else []),
        *[f"a=rtcp-fb:{pt} {fb}" for fb in video.rtcp_feedback],
        f"a=rtpmap:{rtx.rtpmap}",
        f"a=fmtp:{rtx.fmtp}",
        "a=ssrc-group:FID 1111 2222",
        "a=ssrc:1111 cname:rtcpeer",
        "a=ssrc:2222 cname:rtcpeer",
        *cands,
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        *common,
        "a=mid:1",
        *exts,
        "a=sendrecv",
        "a=msid:py a0",
        "a=rtcp-mux",
        f"a=rtpmap:{opus.rtpmap}",
        f"a=fmtp:{opus.fmtp}",
        *[f"a=rtcp-fb:111 {fb}" for fb in opus.rtcp_feedback],
        "a=ssrc:3333 cname:rtcpeer",
    ]
    return "\r\n".join(lines) + "\r\n"


def attr(sdp: str, name: str) -> str:
    m = re.search(rf"^a={name}:(.*?)\r?$", sdp, re.M)
    assert m, f"no a={name} in the answer"
    return m.group(1).strip()


@pytest.mark.parametrize(("codec", "loss"), [("VP8", 0.0), ("VP8", 0.05), ("H264", 0.0)])
async def test_media_layer_with_chromium(codec: str, loss: float) -> None:
    """With ``loss``, that share of RTP media is dropped both ways: Chromium's NACKs must be
    answered by our RTX and our NACKs by Chromium's RTX."""
    playwright = pytest.importorskip("playwright.async_api")
    loop = asyncio.get_running_loop()
    cert = RTCCertificate.generate()
    fingerprint = cert.getFingerprints()[0]["value"].upper()
    ice = IceTransport(controlling=True, include_loopback=True, ipv6=False)
    await ice.gather()
    video = next(c for c in VIDEO_CODECS if c.name == codec)
    if codec == "H264" and not h264_encoder_available():
        pytest.skip("the installed FFmpeg has no H.264 encoder")
    offer = build_offer(ice, fingerprint, video)

    with tempfile.TemporaryDirectory(prefix="rtcpeer-media-chromium-") as profile:
        async with playwright.async_playwright() as p:
            browser = await p.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS
            )
            try:
                page = await browser.new_page()
                # getUserMedia needs a secure context: serve the page as http://localhost/
                await page.route(
                    "http://localhost/media.html",
                    lambda route: route.fulfill(body=PAGE, content_type="text/html"),
                )
                await page.goto("http://localhost/media.html")
                answer = await page.evaluate("o => window.answer(o)", offer)
                await run_call(page, ice, cert, answer, loop, video, loss)
            finally:
                await browser.close()


async def run_call(
    page: Any,
    ice: IceTransport,
    cert: RTCCertificate,
    answer: str,
    loop: Any,
    video: RtpCodec,
    loss: float,
) -> None:
    pt = video.payload_type
    rng = random.Random(4)

    drops = [0]

    def lost(data: bytes) -> bool:
        # RTP only (RTCP and DTLS always pass), and only video: audio is not NACKed
        if loss and not is_rtcp(data) and data[1] & 0x7F == pt and rng.random() < loss:
            drops[0] += 1
            return True
        return False

    setup = attr(answer, "setup")
    assert setup == "active"  # Chromium answers actpass with active: it is the DTLS client
    fp_alg, fp_value = attr(answer, "fingerprint").split(" ", 1)
    ice.set_remote_credentials(attr(answer, "ice-ufrag"), attr(answer, "ice-pwd"))
    for line in re.findall(r"^a=(candidate:.*?)\r?$", answer, re.M):
        cand = Candidate.from_sdp(line)
        if cand.transport == "udp" and ":" not in cand.host:
            ice.add_remote_candidate(cand)
    ice.add_remote_candidate(None)

    session = RtpSession(mid_extension_id=1, transport_cc_extension_id=3, feedback_ssrc=4444)
    dtls = DtlsCore(cert, "server", [(fp_alg, fp_value)], srtp=True)
    keyed = asyncio.Event()

    def flush() -> None:
        for d in dtls.datagrams_to_send():
            ice.send(d)
        for d in session.datagrams_to_send():
            if not lost(d):
                ice.send(d)

    vrecv_core = RtpReceiverCore(video, rtx_payload_type=97, local_ssrc=4444)
    arecv_core = RtpReceiverCore(AUDIO_CODECS[0], local_ssrc=4445)
    session.add_receiver(vrecv_core, mid="0")
    session.add_receiver(arecv_core, mid="1")
    vtrack, atrack = RemoteStreamTrack("video"), RemoteStreamTrack("audio")
    receivers = {
        id(vrecv_core): RtpMediaReceiver(vrecv_core, VideoDecoder(video.name), vtrack),
        id(arecv_core): RtpMediaReceiver(arecv_core, AudioDecoder(), atrack),
    }

    def on_data(data: bytes) -> None:
        now = loop.time()
        first = data[0]
        if 19 < first < 64:
            dtls.receive(data, now)
            for ev in dtls.events():
                if isinstance(ev, DtlsConnected):
                    assert ev.srtp_profile is not None
                    session.set_srtp(ev.srtp_profile, ev.keying_material, is_client=False)
                    keyed.set()
        elif 127 < first < 192:
            if lost(data):
                return
            rx = session.receive(data, now)
            if rx is not None:
                receivers[id(rx)].feed(now)
        flush()

    ice.on_data = on_data
    dtls.start(loop.time())
    await ice.connect(timeout=10)
    await asyncio.wait_for(keyed.wait(), 10)

    vsend_core = RtpSenderCore(
        video,
        1111,
        rtx_payload_type=97,
        rtx_ssrc=2222,
        mid="0",
        extensions=EXT_IDS,
        transport_sequence=session.next_transport_sequence,
    )
    asend_core = RtpSenderCore(
        AUDIO_CODECS[0],
        3333,
        mid="1",
        extensions=EXT_IDS,
        transport_sequence=session.next_transport_sequence,
    )
    session.add_sender(vsend_core)
    session.add_sender(asend_core)

    def send(packets: list[bytes]) -> None:
        session.send(packets)
        flush()

    senders = [
        RtpMediaSender(
            VideoTestTrack(320, 240), vsend_core, VideoEncoder(video.name, 500_000), send
        ),
        RtpMediaSender(AudioToneTrack(), asend_core, OpusEncoder(), send),
    ]
    for s in senders:
        s.start()
    sink = NullSink()
    sink.addTrack(vtrack)
    sink.addTrack(atrack)
    await sink.start()

    async def timers() -> None:
        while True:
            now = loop.time()
            dtls.timeout(now)
            session.timeout(now)
            for r in receivers.values():
                r.feed(now)
            flush()
            await asyncio.sleep(0.01)

    timer_task = asyncio.ensure_future(timers())
    try:
        deadline = loop.time() + 30
        browser_decoded = 0
        browser_audio = 0
        while loop.time() < deadline:
            await asyncio.sleep(0.25)
            counts = await page.evaluate("() => window.decoded()")
            browser_decoded, browser_audio = counts["video"], counts["audio"]
            if (
                browser_decoded >= 30
                and browser_audio >= 30
                and sink.frames["video"] >= 30
                and sink.frames["audio"] >= 30
                and vsend_core.rtt is not None  # an RR answering one of our SRs
                and (
                    not loss
                    or (
                        vsend_core.nacks_received
                        and vrecv_core.jitter_buffer.nacks_sent
                        and vrecv_core.rtx_received
                    )
                )
            ):
                break
        print(
            f"chromium decoded {browser_decoded} video, {browser_audio} audio; python {sink.frames}; rtt {vsend_core.rtt:.4f}"
            f"; bitrate {vsend_core.bwe.target_bitrate}; twcc {session.twcc._count}"
            f"; plis {vsend_core.keyframe_requests}; remote video {vrecv_core.frames_received}"
            f" dropped {vrecv_core.frames_dropped}; unroutable {session.unroutable}"
            f"; nacks in {vsend_core.nacks_received} rtx out {vsend_core.history.retransmitted}"
            f"; nacks out {vrecv_core.jitter_buffer.nacks_sent} rtx in {vrecv_core.rtx_received}"
            f"; drops {drops[0]} in {vrecv_core.packets_received} / out {vsend_core.packets_sent}"
        )
        assert browser_decoded >= 30, f"Chromium decoded {browser_decoded} of Python's frames"
        assert browser_audio >= 30, f"Chromium decoded {browser_audio} of Python's Opus frames"
        assert sink.frames["video"] >= 30 and sink.frames["audio"] >= 30, sink.frames
        assert vtrack.readyState == "live" and not vtrack.muted
        assert session.srtp is not None and session.srtp.auth_failures == 0
        assert vsend_core.rtt is not None  # Chromium's receiver reports came back
        if loss:
            assert vsend_core.nacks_received > 0 and vsend_core.history.retransmitted > 0
            assert vrecv_core.jitter_buffer.nacks_sent > 0 and vrecv_core.rtx_received > 0
    finally:
        timer_task.cancel()
        for s in senders:
            await s.stop()
        await sink.stop()
        await ice.close()
