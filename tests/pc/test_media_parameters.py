"""RTCRtpSender.setParameters applied to a running call (issue 8 follow-up): active,
maxBitrate, scaleResolutionDownBy, maxFramerate; degradationPreference kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("av")
pytest.importorskip("pylibsrtp")

from pchelpers import close_all, negotiate, new_pc, trickle, wait_for

from rtcpeer import RTCPeerConnection
from rtcpeer.media.sources import VideoTestTrack
from rtcpeer.rtp.bwe import BandwidthEstimator

pytestmark = pytest.mark.timeout(60)


def test_estimator_cap() -> None:
    bwe = BandwidthEstimator(initial=1_000_000)
    bwe.cap = 30_000  # below the minimum: the user's cap wins
    assert bwe.target_bitrate == 30_000
    bwe.cap = None
    assert bwe.target_bitrate == 1_000_000


def test_sender_core_max_bitrate_event() -> None:
    from rtcpeer.rtp.codecs import VIDEO_CODECS
    from rtcpeer.rtp.sender import BitrateChanged, RtpSenderCore

    core = RtpSenderCore(VIDEO_CODECS[0], 42)
    core.set_max_bitrate(200_000)
    assert core.events() == [BitrateChanged(200_000)]
    core.set_max_bitrate(200_000)
    assert core.events() == []  # unchanged target: no event
    core.set_max_bitrate(None)
    assert core.events() == [BitrateChanged(1_000_000)]


class Frames:
    def __init__(self, pc: RTCPeerConnection) -> None:
        self.frames: list[Any] = []
        self.tasks: list[asyncio.Task[None]] = []
        pc.addEventListener("track", self.on_track)

    def on_track(self, event: Any) -> None:
        self.tasks.append(asyncio.ensure_future(self.read(event.track)))

    async def read(self, track: Any) -> None:
        while True:
            self.frames.append(await track.recv())

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()


async def set_encoding(sender: Any, **fields: Any) -> None:
    params = sender.getParameters()
    params["encodings"][0].update(fields)
    await sender.setParameters(params)


async def test_set_parameters_applies_to_the_running_sender() -> None:
    a, b = new_pc(), new_pc()
    trickle(a, b)
    rx = Frames(b)
    t = a.addTransceiver(VideoTestTrack(160, 120), {"direction": "sendonly"})
    sender = t.sender
    try:
        await negotiate(a, b)
        await wait_for(lambda: len(rx.frames) >= 5, timeout=15)
        pump = a._media._runtime[id(t)].sender
        assert pump is not None

        # scaleResolutionDownBy: the encoder sees half-size frames
        await set_encoding(sender, scaleResolutionDownBy=2.0)
        await wait_for(lambda: rx.frames[-1].width == 80, timeout=10)
        assert rx.frames[-1].height == 60
        assert sender.getParameters()["encodings"][0]["scaleResolutionDownBy"] == 2.0

        # maxBitrate caps the estimator's target (outbound-rtp targetBitrate) and the encoder
        await set_encoding(sender, scaleResolutionDownBy=2.0, maxBitrate=120_000)
        stats = await a.getStats()
        out = next(s for s in stats.values() if s["type"] == "outbound-rtp")
        assert out["targetBitrate"] == 120_000
        assert pump.encoder.target_bitrate == 120_000

        # maxFramerate: about 10 of the source's 30 frames per second are sent
        await set_encoding(sender, maxFramerate=10)
        before = pump.frames_encoded
        skipped = pump.frames_skipped
        await asyncio.sleep(1.0)
        sent = pump.frames_encoded - before
        assert 5 <= sent <= 14, sent
        assert pump.frames_skipped - skipped >= 10

        # active False: no more RTP; True again: frames flow (starting with a key frame)
        await set_encoding(sender, active=False)
        await asyncio.sleep(0.2)
        stopped_at = pump.core.packets_sent
        count = len(rx.frames)
        await asyncio.sleep(0.5)
        assert pump.core.packets_sent == stopped_at
        assert len(rx.frames) <= count + 1
        assert sender.getParameters()["encodings"][0]["active"] is False
        await set_encoding(sender, active=True)
        await wait_for(lambda: len(rx.frames) >= count + 10, timeout=10)
        assert sender.getParameters()["encodings"][0]["active"] is True
    finally:
        rx.stop()
        await close_all(a, b)


async def test_parameters_set_before_negotiation_apply_when_sending_starts() -> None:
    a, b = new_pc(), new_pc()
    trickle(a, b)
    rx = Frames(b)
    t = a.addTransceiver(VideoTestTrack(160, 120), {"direction": "sendonly"})
    await set_encoding(t.sender, scaleResolutionDownBy=4.0)
    params = t.sender.getParameters()
    params["degradationPreference"] = "maintain-resolution"
    await t.sender.setParameters(params)
    try:
        assert t.sender.getParameters()["degradationPreference"] == "maintain-resolution"
        assert t.sender.getParameters()["encodings"][0]["scaleResolutionDownBy"] == 4.0
        await negotiate(a, b)
        await wait_for(lambda: len(rx.frames) >= 3, timeout=15)
        assert (rx.frames[-1].width, rx.frames[-1].height) == (40, 30)
    finally:
        rx.stop()
        await close_all(a, b)


async def test_set_parameters_rejects_bad_values() -> None:
    pc = RTCPeerConnection()
    sender = pc.addTrack(VideoTestTrack(160, 120))
    for fields in ({"maxFramerate": -1}, {"maxBitrate": 0}, {"scaleResolutionDownBy": 0.5}):
        params = sender.getParameters()
        params["encodings"][0].update(fields)
        with pytest.raises(ValueError):
            await sender.setParameters(params)
    params = sender.getParameters()
    params["degradationPreference"] = "sideways"
    with pytest.raises(TypeError):
        await sender.setParameters(params)
    pc.close()
