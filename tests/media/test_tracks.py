"""MediaStreamTrack API, generated sources, sinks, MediaPlayer and the asyncio RTP pipeline."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import av
import pytest

from rtcpeer.events import Event
from rtcpeer.media import (
    AudioToneTrack,
    FrameCallbackSink,
    MediaPlayer,
    MediaRecorder,
    MediaStreamError,
    MediaStreamTrack,
    NullSink,
    RemoteStreamTrack,
    RtpMediaReceiver,
    RtpMediaSender,
    VideoTestTrack,
)
from rtcpeer.rtp.codecs import AUDIO_CODECS, VIDEO_CODECS
from rtcpeer.rtp.codecs.encoders import AudioDecoder, OpusEncoder, VideoDecoder, VideoEncoder
from rtcpeer.rtp.packet import RtpPacket, is_rtcp
from rtcpeer.rtp.receiver import RtpReceiverCore
from rtcpeer.rtp.rtcp import Pli
from rtcpeer.rtp.sender import RtpSenderCore


def test_track_attributes_and_events() -> None:
    t = RemoteStreamTrack("audio", id="abc", muted=False)
    assert RemoteStreamTrack("video").muted  # receiver tracks start muted (webrtc-pc 5.3)
    assert (t.kind, t.id, t.label, t.enabled, t.muted, t.readyState) == (
        "audio",
        "abc",
        "",
        True,
        False,
        "live",
    )
    seen: list[str] = []
    t.onmute = lambda e: seen.append(e.type)
    t.addEventListener("unmute", lambda e: seen.append(e.type))
    t.addEventListener("ended", lambda e: seen.append(e.type))
    t._set_muted(True)
    t._set_muted(True)
    t._set_muted(False)
    t._end()
    t._end()
    assert seen == ["mute", "unmute", "ended"] and t.readyState == "ended"
    with pytest.raises(ValueError):
        MediaStreamTrack("text")
    assert isinstance(Event("x"), Event)


async def test_stop_does_not_fire_ended_and_recv_raises() -> None:
    t = VideoTestTrack(64, 48)
    ended: list[Any] = []
    t.addEventListener("ended", ended.append)
    await t.recv()
    t.stop()
    assert t.readyState == "ended" and ended == []
    with pytest.raises(MediaStreamError):
        await t.recv()


async def test_remote_track_queue_end_and_drop_oldest() -> None:
    t = RemoteStreamTrack("video", max_queue=2)
    for i in range(3):
        t._push(i)
    assert t.frames_dropped == 1
    assert await t.recv() == 1 and await t.recv() == 2
    waiter = asyncio.ensure_future(t.recv())
    await asyncio.sleep(0)
    t._end()
    with pytest.raises(MediaStreamError):
        await waiter


async def test_sources_pace_and_disabled_tracks_are_blank() -> None:
    loop = asyncio.get_running_loop()
    v = VideoTestTrack(160, 120, framerate=50)
    a = AudioToneTrack()
    t0 = loop.time()
    frames = [await v.recv() for _ in range(6)]
    elapsed = loop.time() - t0
    assert 0.09 <= elapsed < 0.5  # 5 intervals of 20 ms
    assert [f.pts for f in frames] == [i * 1800 for i in range(6)]
    assert frames[0].time_base.denominator == 90000 and frames[0].format.name == "yuv420p"
    assert bytes(frames[1].planes[0]) != bytes(frames[2].planes[0])  # it moves
    af = await a.recv()
    assert (af.samples, af.sample_rate, af.format.name, af.layout.name) == (
        960,
        48000,
        "s16",
        "stereo",
    )
    assert max(bytes(af.planes[0])) > 0
    a.enabled = False
    silent = await a.recv()
    assert silent.pts == 960 and bytes(silent.planes[0]) == bytes(len(bytes(silent.planes[0])))
    v.enabled = False
    black = await v.recv()
    assert set(bytes(black.planes[0])) == {16} and black.pts == 6 * 1800


async def test_null_and_callback_sinks() -> None:
    v, a = VideoTestTrack(64, 48, framerate=100), AudioToneTrack()
    sink = NullSink()
    sink.addTrack(v)
    sink.addTrack(a)
    got: list[Any] = []

    async def cb(frame: Any) -> None:
        got.append(frame)

    remote = RemoteStreamTrack("video")
    cbs = FrameCallbackSink(cb)
    cbs.addTrack(remote)
    await sink.start()
    await cbs.start()
    remote._push("f1")
    remote._push("f2")
    await asyncio.sleep(0.15)
    remote._end()
    await cbs.wait()
    await sink.stop()
    assert sink.frames["video"] >= 8 and sink.frames["audio"] >= 4
    assert got == ["f1", "f2"] and cbs.frames["video"] == 2


class Finite(MediaStreamTrack):
    """The first ``count`` frames of a generated source, unpaced, then the track ends."""

    def __init__(self, source: VideoTestTrack | AudioToneTrack, count: int) -> None:
        super().__init__(source.kind)
        self.source = source
        self.count = count

    async def _recv(self) -> Any:
        if self.count == 0:
            self._end()
            raise MediaStreamError("done")
        self.count -= 1
        await asyncio.sleep(0)
        return self.source.next_frame()


async def test_recorder_then_player_round_trip(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "out.webm")
    rec = MediaRecorder(path)
    rec.addTrack(Finite(VideoTestTrack(160, 120, framerate=30), 20))
    rec.addTrack(Finite(AudioToneTrack(), 30))
    await rec.start()
    await asyncio.wait_for(rec.wait(), 10)
    await rec.stop()
    assert rec.frames == {"video": 20, "audio": 30}
    with av.open(path) as c:
        assert {s.type for s in c.streams} == {"video", "audio"}
        assert sum(1 for _ in c.decode(video=0)) == 20

    player = MediaPlayer(path, realtime=False)
    assert player.video is not None and player.audio is not None
    sink = NullSink()
    sink.addTrack(player.video)
    sink.addTrack(player.audio)
    await sink.start()
    await asyncio.wait_for(sink.wait(), 10)
    assert sink.frames["video"] >= 15 and sink.frames["audio"] >= 15
    assert player.video.readyState == "ended"


async def test_player_paces_in_realtime(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "tone.ogg")
    rec = MediaRecorder(path)
    rec.addTrack(AudioToneTrack())
    await rec.start()
    await asyncio.sleep(0.3)
    await rec.stop()
    player = MediaPlayer(path)
    assert player.video is None and player.audio is not None
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    first = await player.audio.recv()
    last = first
    while True:
        try:
            last = await player.audio.recv()
        except MediaStreamError:
            break
    media = float((last.pts - first.pts) * last.time_base)
    assert media > 0.15 and loop.time() - t0 >= media * 0.8


async def test_asyncio_pipeline_with_replace_track_and_keyframe_requests() -> None:
    """Local tracks -> RtpMediaSender -> (packets handed over directly) -> RtpReceiverCore ->
    RtpMediaReceiver -> RemoteStreamTrack, on the real event loop."""
    loop = asyncio.get_running_loop()
    vcodec, acodec = VIDEO_CODECS[0], AUDIO_CODECS[0]
    vcore = RtpSenderCore(vcodec, 10, rng=random.Random(1))
    acore = RtpSenderCore(acodec, 20, rng=random.Random(2))
    vrx = RtpReceiverCore(vcodec, ssrc=10)
    arx = RtpReceiverCore(acodec, ssrc=20)
    vtrack, atrack = RemoteStreamTrack("video"), RemoteStreamTrack("audio")
    unmuted: list[str] = []
    vtrack.addEventListener("unmute", lambda e: unmuted.append(e.type))
    vrecv = RtpMediaReceiver(vrx, VideoDecoder("VP8"), vtrack)
    arecv = RtpMediaReceiver(arx, AudioDecoder(), atrack)

    def deliver(packets: list[bytes]) -> None:
        now = loop.time()
        for d in packets:
            if is_rtcp(d):
                continue
            p = RtpPacket.parse(d)
            (vrx if p.ssrc == 10 else arx).receive_rtp(p, now)
        vrecv.feed(now)
        arecv.feed(now)

    vs = RtpMediaSender(VideoTestTrack(160, 120, framerate=60), vcore, VideoEncoder("VP8"), deliver)
    as_ = RtpMediaSender(AudioToneTrack(), acore, OpusEncoder(), deliver)
    vs.start()
    as_.start()
    vframes = [await asyncio.wait_for(vtrack.recv(), 5) for _ in range(10)]
    aframes = [await asyncio.wait_for(atrack.recv(), 5) for _ in range(10)]
    assert all(f.width == 160 for f in vframes) and all(f.samples == 960 for f in aframes)
    assert unmuted == ["unmute"] and not vtrack.muted and not atrack.muted
    vcore.receive_rtcp([Pli(1, 10)], loop.time())
    vs.replace_track(VideoTestTrack(96, 64, framerate=60))
    size = None
    for _ in range(30):
        f = await asyncio.wait_for(vtrack.recv(), 5)
        size = (f.width, f.height)
        if size == (96, 64):
            break
    assert size == (96, 64)
    assert vcore.keyframe_requests == 1
    await vs.stop()
    await as_.stop()
    assert vs.frames_encoded >= 11 and vrecv.frames_decoded >= 11


def test_media_stream() -> None:
    from rtcpeer.media import MediaStream

    v, a = RemoteStreamTrack("video"), RemoteStreamTrack("audio")
    s = MediaStream([v], id="s1")
    assert s.id == "s1" and s.getTracks() == [v] and s.active
    s.addTrack(a)
    s.addTrack(a)
    assert s.getAudioTracks() == [a] and s.getVideoTracks() == [v] and s.getTrackById(a.id) is a
    copy = MediaStream(s)
    assert copy.getTracks() == [v, a] and copy.id != s.id
    events: list[tuple[str, str]] = []
    s.onaddtrack = lambda e: events.append(("add", e.track.kind))
    s.addEventListener("removetrack", lambda e: events.append(("remove", e.track.kind)))
    s.removeTrack(a)  # the user's own calls fire nothing
    s._add_remote_track(a)
    s._remove_remote_track(v)
    assert events == [("add", "audio"), ("remove", "video")]
    a.stop()
    assert not s.active and s.getTrackById("nope") is None
    assert VideoTestTrack(64, 48, 15).getSettings() == {"width": 64, "height": 48, "frameRate": 15}
    assert AudioToneTrack().getSettings()["sampleRate"] == 48000


async def test_player_loops_with_increasing_timestamps(tmp_path: Any) -> None:
    path = os.path.join(tmp_path, "short.webm")
    rec = MediaRecorder(path)
    rec.addTrack(Finite(VideoTestTrack(64, 48, framerate=30), 10))
    await rec.start()
    await asyncio.wait_for(rec.wait(), 10)
    await rec.stop()
    player = MediaPlayer(path, loop=True, realtime=False)
    assert player.video is not None and player.audio is None
    frames = [await asyncio.wait_for(player.video.recv(), 5) for _ in range(25)]
    times = [float(f.pts * f.time_base) for f in frames]
    assert times == sorted(times) and len(set(times)) == 25  # looped twice, still increasing
    player.video.stop()
    with pytest.raises(MediaStreamError):
        await player.video.recv()
