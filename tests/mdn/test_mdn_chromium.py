"""The MDN "Signaling and video calling" client in headless Chromium (the guide's JavaScript,
fake camera and microphone) calling, and called by, the Python port of the same guide
(examples/mdn/signaling_video_call.py). Signaling is a page <-> Python bridge carrying the
guide's JSON messages unchanged."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
from mdnhelpers import load_example, wait_for
from playwright.async_api import BrowserContext, Page, async_playwright

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
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]

# The guide's client code, as on MDN (the chat/user-list parts left out): sendToServer()
# goes to Python through window.pySignal; Python's messages arrive through window.onSignal.
PAGE = """<!doctype html><html><body>
<video id="local_video" autoplay muted></video><video id="received_video" autoplay></video>
<button id="hangup-button" disabled>Hang up</button>
<script>
const myUsername = "Browser";
let targetUsername = null;
let myPeerConnection = null;
const mediaConstraints = { audio: true, video: true };
window.errors = [];
window.signalingStates = [];

function sendToServer(msg) { window.pySignal(JSON.stringify(msg)); }
function reportError(err) { window.errors.push(String(err)); }
function handleGetUserMediaError(e) { reportError(e); closeVideoCall(); }

window.onSignal = (text) => {
  const msg = JSON.parse(text);
  switch (msg.type) {
    case "video-offer": handleVideoOfferMsg(msg); break;
    case "video-answer": handleVideoAnswerMsg(msg); break;
    case "new-ice-candidate": handleNewICECandidateMsg(msg); break;
    case "hang-up": closeVideoCall(); break;
  }
};

function invite(clickedUsername) {
  targetUsername = clickedUsername;
  createPeerConnection();
  navigator.mediaDevices.getUserMedia(mediaConstraints)
    .then((localStream) => {
      document.getElementById("local_video").srcObject = localStream;
      localStream.getTracks().forEach((track) => myPeerConnection.addTrack(track, localStream));
    })
    .catch(handleGetUserMediaError);
}

function createPeerConnection() {
  myPeerConnection = new RTCPeerConnection({ iceServers: [] });
  myPeerConnection.onicecandidate = handleICECandidateEvent;
  myPeerConnection.ontrack = handleTrackEvent;
  myPeerConnection.onnegotiationneeded = handleNegotiationNeededEvent;
  myPeerConnection.oniceconnectionstatechange = handleICEConnectionStateChangeEvent;
  myPeerConnection.onsignalingstatechange = handleSignalingStateChangeEvent;
}

function handleNegotiationNeededEvent() {
  myPeerConnection.createOffer()
    .then((offer) => myPeerConnection.setLocalDescription(offer))
    .then(() => sendToServer({ name: myUsername, target: targetUsername, type: "video-offer",
                               sdp: myPeerConnection.localDescription }))
    .catch(reportError);
}

function handleVideoOfferMsg(msg) {
  let localStream = null;
  targetUsername = msg.name;
  createPeerConnection();
  const desc = new RTCSessionDescription(msg.sdp);
  myPeerConnection.setRemoteDescription(desc)
    .then(() => navigator.mediaDevices.getUserMedia(mediaConstraints))
    .then((stream) => {
      localStream = stream;
      document.getElementById("local_video").srcObject = localStream;
      localStream.getTracks().forEach((track) => myPeerConnection.addTrack(track, localStream));
    })
    .then(() => myPeerConnection.createAnswer())
    .then((answer) => myPeerConnection.setLocalDescription(answer))
    .then(() => sendToServer({ name: myUsername, target: targetUsername, type: "video-answer",
                               sdp: myPeerConnection.localDescription }))
    .catch(handleGetUserMediaError);
}

function handleVideoAnswerMsg(msg) {
  const desc = new RTCSessionDescription(msg.sdp);
  myPeerConnection.setRemoteDescription(desc).catch(reportError);
}

function handleICECandidateEvent(event) {
  if (event.candidate) {
    sendToServer({ type: "new-ice-candidate", target: targetUsername, candidate: event.candidate });
  }
}

function handleNewICECandidateMsg(msg) {
  const candidate = new RTCIceCandidate(msg.candidate);
  myPeerConnection.addIceCandidate(candidate).catch(reportError);
}

function handleTrackEvent(event) {
  document.getElementById("received_video").srcObject = event.streams[0];
  document.getElementById("hangup-button").disabled = false;
}

function hangUpCall() {
  closeVideoCall();
  sendToServer({ name: myUsername, target: targetUsername, type: "hang-up" });
}

function closeVideoCall() {
  const remoteVideo = document.getElementById("received_video");
  const localVideo = document.getElementById("local_video");
  if (myPeerConnection) {
    myPeerConnection.ontrack = null;
    myPeerConnection.onicecandidate = null;
    myPeerConnection.oniceconnectionstatechange = null;
    myPeerConnection.onsignalingstatechange = null;
    myPeerConnection.onnegotiationneeded = null;
    if (remoteVideo.srcObject) remoteVideo.srcObject.getTracks().forEach((t) => t.stop());
    if (localVideo.srcObject) localVideo.srcObject.getTracks().forEach((t) => t.stop());
    myPeerConnection.close();
    myPeerConnection = null;
  }
  remoteVideo.srcObject = null;
  localVideo.srcObject = null;
  document.getElementById("hangup-button").disabled = true;
  targetUsername = null;
}

function handleICEConnectionStateChangeEvent(event) {
  switch (myPeerConnection.iceConnectionState) {
    case "closed": case "failed": closeVideoCall(); break;
  }
}

function handleSignalingStateChangeEvent(event) {
  window.signalingStates.push(myPeerConnection.signalingState);
  if (myPeerConnection.signalingState === "closed") closeVideoCall();
}

window.inCall = () => myPeerConnection !== null;
window.framesDecoded = async () => {
  if (!myPeerConnection) return 0;
  const stats = await myPeerConnection.getStats();
  let frames = 0;
  stats.forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0; });
  return frames;
};
window.remoteTrackKinds = () => {
  const s = document.getElementById("received_video").srcObject;
  return s ? s.getTracks().map((t) => t.kind).sort() : [];
};
</script></body></html>"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[BrowserContext]:
    with tempfile.TemporaryDirectory(prefix="rtcpeer-mdn-chromium-") as profile:
        async with async_playwright() as p:
            context = await p.chromium.launch_persistent_context(
                profile, executable_path="/usr/bin/chromium", headless=True, args=ARGS
            )
            try:
                yield context
            finally:
                await context.close()


class PageSignaler:
    """The Python end of the bridge: ``send(text)`` reaches the page's ``onSignal``."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._pump())

    def send(self, text: str) -> None:
        self.outbox.put_nowait(text)

    async def _pump(self) -> None:
        while True:
            text = await self.outbox.get()
            await self.page.evaluate("t => window.onSignal(t)", text)


async def call(browser: BrowserContext, python_calls: bool) -> tuple[Any, Page, list[Any]]:
    module = load_example("signaling_video_call.py")
    page = await browser.new_page()
    inbox: asyncio.Queue[str] = asyncio.Queue()
    await page.expose_function("pySignal", inbox.put_nowait)
    # getUserMedia needs a secure context: serve the page as http://localhost/.
    await page.route(
        "http://localhost/mdn-call.html",
        lambda route: route.fulfill(body=PAGE, content_type="text/html"),
    )
    await page.goto("http://localhost/mdn-call.html")
    signaler = PageSignaler(page)
    python = module.Client("Python", signaler)

    async def deliver() -> None:
        while True:
            text = await inbox.get()
            await python.on_message(SimpleNamespace(data=text))

    tasks = [signaler.task, asyncio.ensure_future(deliver())]
    if python_calls:
        await python.invite("Browser")
    else:
        await page.evaluate("() => invite('Python')")
    return python, page, tasks


@pytest.mark.parametrize("python_calls", [False, True], ids=["browser-calls", "python-calls"])
async def test_mdn_video_call_with_chromium(browser: BrowserContext, python_calls: bool) -> None:
    python, page, tasks = await call(browser, python_calls)
    try:
        await wait_for(lambda: python.received_video.srcObject is not None, timeout=15)
        stream = python.received_video.srcObject
        assert sorted(t.kind for t in stream.getTracks()) == ["audio", "video"]
        frame = await asyncio.wait_for(stream.getVideoTracks()[0].recv(), 15)
        assert frame.width > 0 and frame.height > 0  # Chromium's fake camera, decoded
        await page.wait_for_function(
            "async () => (await window.framesDecoded()) > 0", timeout=15000
        )
        assert await page.evaluate("() => window.remoteTrackKinds()") == ["audio", "video"]
        assert await page.evaluate("() => window.errors") == []
        assert python.log == []
        if python_calls:
            assert python.signaling_states == ["have-local-offer", "stable"]
        else:
            assert python.signaling_states == ["have-remote-offer", "stable"]
        # Hang up from the browser's "Hang up" button: Python runs closeVideoCall().
        await page.evaluate("() => hangUpCall()")
        await wait_for(lambda: python.my_peer_connection is None, timeout=5)
        assert python.hangup_button_disabled is True
        assert await page.evaluate("() => window.inCall()") is False
    finally:
        for task in tasks:
            task.cancel()
        python.close_video_call()
        await page.close()
