"""End to end on a fake clock: test pattern video and a tone through encoder -> payloader ->
RTP -> SRTP -> lossy link (NACK/RTX repair) -> SRTP -> jitter buffer -> depayloader -> decoder."""

from __future__ import annotations

import os
import random

import pytest

from netsim import FakeClock, LinkConfig, LossyLink
from rtcpeer.media.sources import AudioToneTrack, VideoTestTrack
from rtcpeer.rtp.codecs import AUDIO_CODECS, VIDEO_CODECS, RtpCodec
from rtcpeer.rtp.codecs.encoders import (
    AudioDecoder,
    OpusEncoder,
    VideoDecoder,
    VideoEncoder,
    h264_encoder_available,
)
from rtcpeer.rtp.packet import EXT_ABS_SEND_TIME, EXT_MID, EXT_TRANSPORT_CC, RtpPacket, is_rtcp
from rtcpeer.rtp.receiver import RtpReceiverCore
from rtcpeer.rtp.rtcp import parse_rtcp
from rtcpeer.rtp.sender import RtpSenderCore
from rtcpeer.rtp.srtp import SrtpSession, keying_material_length

EXTS = {EXT_MID: 1, EXT_ABS_SEND_TIME: 2, EXT_TRANSPORT_CC: 3}


class Call:
    def __init__(self, video: RtpCodec, loss: float, profile: str, seed: int = 7) -> None:
        self.clock = FakeClock(0.0)
        self.link = LossyLink(
            self.clock, LinkConfig(loss=loss, delay=0.02, reorder=0.05, jitter=0.01, seed=seed)
        )
        km = os.urandom(keying_material_length(profile))
        self.srtp = [SrtpSession(profile, km, True), SrtpSession(profile, km, False)]
        rng = random.Random(seed)
        counter = iter(range(1 << 30))
        self.vsend = RtpSenderCore(
            video,
            1111,
            rtx_payload_type=97,
            rtx_ssrc=2222,
            mid="0",
            extensions=EXTS,
            rng=rng,
            transport_sequence=lambda: next(counter),
        )
        self.asend = RtpSenderCore(AUDIO_CODECS[0], 3333, mid="1", extensions=EXTS, rng=rng)
        self.vrecv = RtpReceiverCore(video, ssrc=1111, rtx_payload_type=97, local_ssrc=5555)
        self.arecv = RtpReceiverCore(AUDIO_CODECS[0], ssrc=3333, local_ssrc=5556)
        self.venc = VideoEncoder(video.name, 400_000)
        self.aenc = OpusEncoder()
        self.vdec = VideoDecoder(video.name)
        self.adec = AudioDecoder()
        self.video_frames: list[object] = []
        self.audio_frames: list[object] = []

    def deliver(self, to: int, data: bytes, now: float) -> None:
        s = self.srtp[to]
        if is_rtcp(data):
            plain = s.unprotect_rtcp(data)
            assert plain is not None
            pkts = parse_rtcp(plain)
            if to == 0:
                self.vsend.receive_rtcp(pkts, now)
                self.asend.receive_rtcp(pkts, now)
            else:
                self.vrecv.receive_rtcp(pkts, now)
                self.arecv.receive_rtcp(pkts, now)
            return
        plain = s.unprotect(data)
        assert plain is not None
        p = RtpPacket.parse(plain)
        assert p.extensions[1] in (b"0", b"1")  # mid on every packet (BUNDLE demux)
        (self.arecv if p.ssrc == 3333 else self.vrecv).receive_rtp(p, now)

    def flush(self) -> None:
        for core in (self.vsend, self.asend):
            for d in core.packets_to_send():
                prot = self.srtp[0].protect_rtcp(d) if is_rtcp(d) else self.srtp[0].protect(d)
                self.link.send(0, prot)
        for core in (self.vrecv, self.arecv):
            for d in core.packets_to_send():
                self.link.send(1, self.srtp[1].protect_rtcp(d))
        for enc in self.vrecv.frames():
            frames = self.vdec.decode(enc.data, enc.timestamp)
            self.video_frames.extend(frames)
        for enc in self.arecv.frames():
            self.audio_frames.extend(self.adec.decode(enc.data, enc.timestamp))

    def run(self, seconds: float) -> None:
        vsrc, asrc = VideoTestTrack(320, 240), AudioToneTrack()
        tick = 0.005
        next_v = next_a = 0.0
        cores = (self.vsend, self.asend, self.vrecv, self.arecv)
        while self.clock.now < seconds:
            now = self.clock.now
            if now >= next_v:
                for data, ts in self.venc.encode(vsrc.next_frame()):
                    self.vsend.send_frame(data, ts, now)
                next_v += 1 / 30
            if now >= next_a:
                for data, ts in self.aenc.encode(asrc.next_frame()):
                    self.asend.send_frame(data, ts, now)
                next_a += 0.02
            self.flush()
            for to, data in self.link.deliver_due():
                self.deliver(to, data, now)
            for core in cores:
                t = core.next_timeout()
                if t is not None and t <= now:
                    core.timeout(now)
            self.flush()
            self.clock.advance(tick)


@pytest.mark.parametrize("profile", ["SRTP_AES128_CM_SHA1_80", "SRTP_AEAD_AES_128_GCM"])
def test_lossy_loopback_repairs_video_with_nack_rtx(profile: str) -> None:
    call = Call(VIDEO_CODECS[0], loss=0.05, profile=profile)
    call.run(2.5)
    assert call.link.dropped[0] > 5  # the link really lost media packets
    assert call.vsend.nacks_received > 0 and call.vsend.history.retransmitted > 0
    assert call.vrecv.rtx_received > 0
    assert len(call.video_frames) >= 30 and len(call.audio_frames) >= 30
    assert call.vrecv.frames_dropped == 0 and call.vdec.errors == 0  # every loss repaired
    sent_video = 75  # 2.5 s at 30 fps
    assert len(call.video_frames) >= sent_video - 5  # only the frames still in flight missing
    f = call.video_frames[-1]
    assert (f.width, f.height) == (320, 240)  # type: ignore[attr-defined]
    pts = [fr.pts for fr in call.video_frames]  # type: ignore[attr-defined]
    assert pts == sorted(pts) and pts[1] - pts[0] == 3000
    a = call.audio_frames[-1]
    assert a.sample_rate == 48000 and a.samples == 960  # type: ignore[attr-defined]
    assert call.srtp[0].auth_failures == 0 and call.srtp[1].auth_failures == 0
    # receiver reports flowed back: the sender measured a round trip close to 2 x 20 ms
    assert call.vsend.rtt is not None and 0.03 <= call.vsend.rtt <= 0.06


def test_clean_link_h264() -> None:
    if not h264_encoder_available():
        pytest.skip("the installed FFmpeg has no H.264 encoder (libx264)")
    call = Call(VIDEO_CODECS[1], loss=0.0, profile="SRTP_AES128_CM_SHA1_80")
    call.run(1.5)
    assert len(call.video_frames) >= 40 and call.vdec.errors == 0
