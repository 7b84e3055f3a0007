"""RtpSession: SRTP, BUNDLE routing (mid, SSRC, payload type), RTCP fan-out, transport-cc."""

from __future__ import annotations

import os
import random

from rtcpeer.rtp.codecs import AUDIO_CODECS, VIDEO_CODECS
from rtcpeer.rtp.packet import EXT_MID, EXT_TRANSPORT_CC, RtpPacket
from rtcpeer.rtp.receiver import RtpReceiverCore
from rtcpeer.rtp.sender import RtpSenderCore
from rtcpeer.rtp.session import RtpSession
from rtcpeer.rtp.srtp import keying_material_length

PROFILE = "SRTP_AES128_CM_SHA1_80"
EXTS = {EXT_MID: 4, EXT_TRANSPORT_CC: 5}


def pair() -> tuple[RtpSession, RtpSession]:
    km = os.urandom(keying_material_length(PROFILE))
    a = RtpSession(mid_extension_id=4, transport_cc_extension_id=5, feedback_ssrc=100)
    b = RtpSession(mid_extension_id=4, transport_cc_extension_id=5, feedback_ssrc=200)
    a.set_srtp(PROFILE, km, True)
    b.set_srtp(PROFILE, km, False)
    return a, b


def pump(src: RtpSession, dst: RtpSession, now: float) -> list[RtpReceiverCore | None]:
    return [dst.receive(d, now) for d in src.datagrams_to_send()]


def test_routing_by_mid_then_learned_ssrc_and_rtcp_fan_out() -> None:
    a, b = pair()
    rng = random.Random(5)
    video = RtpSenderCore(
        VIDEO_CODECS[0],
        11,
        mid="v",
        extensions=EXTS,
        rng=rng,
        transport_sequence=a.next_transport_sequence,
        rtx_payload_type=97,
        rtx_ssrc=12,
    )
    audio = RtpSenderCore(
        AUDIO_CODECS[0],
        21,
        mid="a",
        extensions=EXTS,
        rng=rng,
        transport_sequence=a.next_transport_sequence,
    )
    a.add_sender(video)
    a.add_sender(audio)
    vr = RtpReceiverCore(VIDEO_CODECS[0], rtx_payload_type=97, local_ssrc=300)
    ar = RtpReceiverCore(AUDIO_CODECS[0], local_ssrc=301)
    b.add_receiver(vr, mid="v")
    b.add_receiver(ar, mid="a")
    video.send_frame(b"\x10" + bytes(3000), 0, 0.0)
    audio.send_frame(b"opus", 0, 0.0)
    routed = pump(a, b, 0.01)
    assert routed.count(vr) == 3 and routed.count(ar) == 1
    assert [len(f.data) for f in vr.frames()] == [3001] and [f.data for f in ar.frames()] == [
        b"opus"
    ]
    # without the mid extension, the learned SSRC still routes
    assert b._route(RtpPacket(96, 1, 0, 11, b"x")) is vr
    # feedback: NACK from the receiver reaches the video sender, RTX comes back and is routed
    video.send_frame(b"\x11" + bytes(100), 3000, 0.033)
    lost = video.packets_to_send()  # dropped on the floor
    assert len(lost) == 1
    video.send_frame(b"\x11" + bytes(100), 6000, 0.066)
    pump(a, b, 0.07)
    assert vr.frames() == []
    b.timeout(0.08)
    pump(b, a, 0.09)  # RR + NACK (+ transport-cc feedback later)
    assert video.nacks_received == 1
    routed = pump(a, b, 0.1)
    assert routed == [vr] and vr.rtx_received == 1
    assert len(vr.frames()) == 2  # the repaired frame and the one behind it
    # transport-wide feedback reaches the senders' estimators
    t = b.next_timeout()
    assert t is not None
    b.timeout(0.2)
    pump(b, a, 0.21)
    assert b.twcc._count >= 1
    assert 0 < video.bwe.loss < 0.5 and video.bwe.loss == audio.bwe.loss  # the lost packet


def test_payload_type_fallback_and_drops() -> None:
    a, b = pair()
    r = RtpReceiverCore(AUDIO_CODECS[0], local_ssrc=1)
    b.add_receiver(r, payload_types=[111])
    s = RtpSenderCore(AUDIO_CODECS[0], 77, rng=random.Random(1))  # no mid extension at all
    a.add_sender(s)
    s.send_frame(b"x", 0, 0.0)
    assert pump(a, b, 0.0) == [r] and r.ssrc == 77
    # unkeyed sessions neither send nor accept
    c = RtpSession()
    c.send([b"\x80" * 20])
    assert c.datagrams_to_send() == [] and c.receive(b"\x80" * 20, 0.0) is None
    # forged and garbage datagrams are dropped and counted, never raised
    assert (
        b.receive(os.urandom(40), 0.0) is None and b.receive(b"\x80\xc9" + bytes(30), 0.0) is None
    )
    assert b.srtp is not None and b.srtp.auth_failures == 2
    b.remove_receiver(r)
    s.send_frame(b"y", 960, 0.02)
    assert pump(a, b, 0.02) == [None] and b.unroutable == 1
    # ambiguous payload types do not route
    r1 = RtpReceiverCore(VIDEO_CODECS[0])
    r2 = RtpReceiverCore(VIDEO_CODECS[0])
    b.add_receiver(r1)
    b.add_receiver(r2)
    assert b._route(RtpPacket(96, 1, 0, 5, b"x")) is None
