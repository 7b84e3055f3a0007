"""SessionDescription parse/write (RFC 8866) and the typed WebRTC attribute helpers."""

from __future__ import annotations

import json
import pathlib

import pytest

from rtcpeer.sdp import (
    Attribute,
    Candidate,
    ExtMap,
    MediaDescription,
    Rid,
    RtpMap,
    SDPParseError,
    SessionDescription,
    Ssrc,
    parse_fmtp_params,
)

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "sdp"
FIXTURES = sorted(DATA.glob("*.sdp"))
CHROMIUM = sorted(DATA.glob("chromium_*.sdp"))


def read(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8")


def crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def raw_values(text: str, prefix: str) -> list[str]:
    """Values of the lines starting with ``prefix``, straight from the text."""
    return [ln[len(prefix) :] for ln in text.splitlines() if ln.startswith(prefix)]


def test_fixture_set_is_complete() -> None:
    names = {p.name for p in FIXTURES}
    for kind in ("datachannel", "audio_video"):
        for part in ("offer", "answer", "offer_candidates", "answer_candidates"):
            assert f"chromium_{kind}_{part}.sdp" in names
    assert len(FIXTURES) >= 12


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_round_trip_is_text_identical(path: pathlib.Path) -> None:
    text = path.read_bytes().decode("utf-8")
    desc = SessionDescription.parse(text)
    out = desc.to_sdp()
    assert out == crlf(text)
    assert SessionDescription.parse(out) == desc
    # LF input parses to the same thing.
    assert SessionDescription.parse(text.replace("\r\n", "\n")) == desc
    # bytes are accepted too.
    assert SessionDescription.parse(text.encode()) == desc


@pytest.mark.parametrize("path", CHROMIUM, ids=lambda p: p.name)
def test_chromium_helpers_match_the_text(path: pathlib.Path) -> None:
    text = path.read_bytes().decode("utf-8")
    assert "\r\n" in text and text.endswith("\r\n")
    desc = SessionDescription.parse(text)
    assert desc.origin.username == "-"
    assert desc.origin.session_version == 2
    assert desc.session_name == "-"
    assert [(t.start, t.stop) for t in desc.timing] == [(0, 0)]
    assert desc.bundle_groups == [[m.mid for m in desc.media]]
    assert desc.has("extmap-allow-mixed")
    assert desc.msid_semantic is not None and desc.msid_semantic[0] == "WMS"
    ufrags = raw_values(text, "a=ice-ufrag:")
    pwds = raw_values(text, "a=ice-pwd:")
    assert [m.ice_ufrag for m in desc.media] == ufrags
    assert [m.ice_pwd for m in desc.media] == pwds
    for m in desc.media:
        assert m.ice_options == ["trickle"]
        [(algo, value)] = m.fingerprints
        assert algo == "sha-256" and len(value) == 95 and value == value.upper()
        assert m.setup in ("actpass", "active")
        assert m.connection is not None
    cands = [Candidate.from_sdp(v) for v in raw_values(text, "a=candidate:")]
    assert [c for m in desc.media for c in m.candidates] == cands
    if "candidates" in path.name:
        assert cands and desc.media[0].port == cands[0].port
        assert desc.media[0].connection.address == cands[0].host  # type: ignore[union-attr]
    else:
        assert not cands and desc.media[0].port == 9
    assert not any(m.end_of_candidates for m in desc.media)


def test_chromium_datachannel() -> None:
    desc = SessionDescription.parse(read("chromium_datachannel_offer.sdp"))
    [m] = desc.media
    assert (m.kind, m.port, m.proto, m.fmt) == (
        "application",
        9,
        "UDP/DTLS/SCTP",
        ["webrtc-datachannel"],
    )
    assert m.mid == "0"
    assert m.sctp_port == 5000
    assert m.max_message_size == 262144
    assert m.setup == "actpass"
    assert m.connection is not None and m.connection.address == "0.0.0.0"
    answer = SessionDescription.parse(read("chromium_datachannel_answer.sdp"))
    assert answer.media[0].setup == "active"


def test_chromium_audio_video() -> None:
    desc = SessionDescription.parse(read("chromium_audio_video_offer.sdp"))
    audio, video = desc.media
    assert (audio.kind, video.kind) == ("audio", "video")
    assert (audio.mid, video.mid) == ("0", "1")
    assert audio.proto == "UDP/TLS/RTP/SAVPF"
    assert audio.direction == "sendrecv"
    assert audio.rtcp_mux and audio.rtcp_rsize
    assert audio.get("rtcp") == "9 IN IP4 0.0.0.0"
    assert audio.rtpmaps[111] == RtpMap("opus", 48000, 2)
    assert audio.rtpmaps[0] == RtpMap("PCMU", 8000)
    assert set(audio.rtpmaps) == set(audio.payload_types)
    assert parse_fmtp_params(audio.fmtps[111]) == {"minptime": "10", "useinbandfec": "1"}
    assert ("111", "transport-cc") in audio.rtcp_fb
    assert ExtMap(4, "urn:ietf:params:rtp-hdrext:sdes:mid") in audio.extmaps
    stream = desc.msid_semantic[1][0]  # type: ignore[index]
    assert [s for s, _ in audio.msid] == [stream]
    assert video.rtpmaps[96] == RtpMap("VP8", 90000)
    assert ("96", "nack pli") in video.rtcp_fb
    fid = [g for g in video.ssrc_groups if g[0] == "FID"]
    assert len(fid) == 1 and len(fid[0][1]) == 2
    ssrcs = {s.ssrc for s in video.ssrcs}
    assert ssrcs == set(fid[0][1])
    cnames = {s.value for s in video.ssrcs if s.attribute == "cname"}
    assert len(cnames) == 1
    assert parse_fmtp_params(video.fmtps[97]) == {"apt": "96"}


def test_chromium_candidates_json_matches_sdp() -> None:
    captured = json.loads((DATA / "chromium_candidates.json").read_text())
    texts = "".join(
        read(f"chromium_{k}_{p}_candidates.sdp")
        for k in ("datachannel", "audio_video")
        for p in ("offer", "answer")
    )
    in_sdp = {ln[2:] for ln in texts.splitlines() if ln.startswith("a=candidate:")}
    trickled = [c for k in ("datachannel", "audio_video") for c in captured[k]]
    assert trickled
    for entry in trickled:
        cand = Candidate.from_sdp(entry["candidate"])
        # The SDP form omits the ufrag extension that trickled candidates carry.
        cand.ufrag = None
        assert cand.to_sdp() in in_sdp


def test_rfc8866_example() -> None:
    desc = SessionDescription.parse(read("rfc8866_example.sdp"))
    assert desc.origin.username == "jdoe"
    assert desc.origin.session_id == "3724394400"
    assert desc.origin.session_version == 3724394405
    assert desc.origin.address == "198.51.100.1"
    assert desc.session_name == "Call to John Smith"
    assert desc.information == "SDP Offer #1"
    assert desc.uri == "http://www.jdoe.example.com/home.html"
    assert desc.emails == ["Jane Doe <jane@jdoe.example.com>"]
    assert desc.phones == ["+1 617 555-6011"]
    assert desc.connection is not None and desc.connection.address == "198.51.100.1"
    assert [(m.kind, m.port) for m in desc.media] == [
        ("audio", 49170),
        ("audio", 49180),
        ("video", 51372),
    ]
    video = desc.media[2]
    assert video.connection is not None
    assert (video.connection.addrtype, video.connection.address) == ("IP6", "2001:db8::2")
    assert video.rtpmaps == {99: RtpMap("h263-1998", 90000)}


def test_jsep_offer() -> None:
    desc = SessionDescription.parse(read("jsep_offer_audio_video_data.sdp"))
    assert desc.ice_options == ["trickle", "ice2"]
    assert desc.groups == [("BUNDLE", ["a1", "v1", "d1"]), ("LS", ["a1", "v1"])]
    assert desc.bundle_groups == [["a1", "v1", "d1"]]
    audio, video, data = desc.media
    assert audio.end_of_candidates
    assert [c.component for c in audio.candidates] == [1, 2]
    assert audio.get("tls-id") == "91bbf309c0990a6bec11e38ba2933cee"
    assert audio.rtpmaps[96] == RtpMap("opus", 48000, 2)
    assert audio.fmtps == {97: "0-15", 98: "0-15"}
    assert video.port == 0 and video.has("bundle-only")
    assert desc.media_by_mid("d1") is data
    assert data.sctp_port == 5000 and data.max_message_size == 65536
    assert desc.lookup(data, "ice-ufrag") is None
    assert desc.lookup(audio, "ice-ufrag") == "ETEn"
    assert desc.media_fingerprints(audio)[0][0] == "sha-256"


def test_firefox_offer() -> None:
    desc = SessionDescription.parse(read("firefox_offer_simulcast.sdp"))
    assert desc.origin.username == "mozilla...THIS_IS_SDPARTA-128.0"
    assert desc.direction == "sendrecv"
    assert desc.msid_semantic == ("WMS", ["*"])
    assert desc.fingerprints[0][0] == "sha-256"
    audio, video, data = desc.media
    assert audio.fingerprints == []
    assert desc.media_fingerprints(audio) == desc.fingerprints
    cands = audio.candidates
    assert [c.type for c in cands] == ["host", "host", "srflx", "relay"]
    assert cands[0].host.endswith(".local") and cands[0].transport == "udp"
    assert cands[1].transport == "tcp" and cands[1].tcptype == "active"
    assert (cands[3].related_address, cands[3].related_port) == ("198.51.100.20", 54609)
    assert audio.end_of_candidates
    assert audio.rtpmaps[9] == RtpMap("G722", 8000, 1)
    assert ExtMap(2, "urn:ietf:params:rtp-hdrext:csrc-audio-level", "recvonly") in audio.extmaps
    assert audio.msid == [
        ("{7a1f0c2e-3b4d-4e5f-8a6b-9c0d1e2f3a4b}", "{1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e}")
    ]
    assert video.rids == [
        Rid("a", "send"),
        Rid("b", "send", "max-width=640;max-height=360"),
        Rid("c", "send", "max-width=320;max-height=180"),
    ]
    sim = video.simulcast
    assert sim is not None and sim.send == [["a"], ["b"], ["~c"]] and sim.recv == []
    assert ("*", "nack") in video.rtcp_fb
    assert video.ssrc_groups == [("FID", [1111111111, 2222222222])]
    assert video.ssrcs[0] == Ssrc(1111111111, "cname", "{5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9}")
    assert data.max_message_size == 1073741823


# ---------------------------------------------------------------- editing


def test_setters_and_order() -> None:
    desc = SessionDescription.parse(read("chromium_datachannel_offer.sdp"))
    m = desc.media[0]
    m.ice_ufrag = "abcd"
    m.ice_pwd = "p" * 24
    m.setup = "passive"
    m.sctp_port = 5001
    m.max_message_size = None
    m.add_candidate(Candidate.from_sdp("candidate:1 1 udp 2130706431 192.0.2.9 4000 typ host"))
    m.end_of_candidates = True
    m.add_candidate(Candidate.from_sdp("candidate:2 1 udp 2130706430 192.0.2.9 4001 typ host"))
    m.direction = "recvonly"
    names = [a.name for a in m.attributes]
    assert names[-4:] == ["candidate", "candidate", "end-of-candidates", "recvonly"]
    out = SessionDescription.parse(desc.to_sdp())
    mm = out.media[0]
    assert (mm.ice_ufrag, mm.setup, mm.sctp_port, mm.max_message_size) == (
        "abcd",
        "passive",
        5001,
        None,
    )
    assert [c.port for c in mm.candidates] == [4000, 4001]
    assert mm.end_of_candidates and mm.direction == "recvonly"
    # Replacing keeps the position of the first one.
    pos = names.index("ice-ufrag")
    m.set("ice-ufrag", "zzzz")
    assert m.attributes[pos] == Attribute("ice-ufrag", "zzzz")
    assert m.get_all("candidate")[0].startswith("1 1 udp")
    assert m.remove("candidate") == 2
    assert m.candidates == []
    m.direction = "sendonly"
    assert [a.name for a in m.attributes].count("sendonly") == 1
    assert m.get("recvonly") is None and not m.has("recvonly")
    m.end_of_candidates = False
    assert not m.end_of_candidates
    m.mid = None
    assert m.mid is None
    with pytest.raises(ValueError):
        m.direction = "sideways"


def test_unknown_attributes_kept() -> None:
    text = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=x-session-thing\r\n"
        "a=x-colon:a:b:c\r\na=x-empty:\r\nm=audio 9 RTP/AVP 0\r\na=x-media: spaced value \r\n"
    )
    desc = SessionDescription.parse(text)
    assert desc.attributes == [
        Attribute("x-session-thing"),
        Attribute("x-colon", "a:b:c"),
        Attribute("x-empty", ""),
    ]
    assert desc.media[0].get("x-media") == " spaced value "
    assert desc.to_sdp() == text


def test_build_from_scratch() -> None:
    desc = SessionDescription()
    desc.origin.session_id = "1234"
    desc.add("group", "BUNDLE 0")
    m = MediaDescription("application", 9, "UDP/DTLS/SCTP", ["webrtc-datachannel"])
    m.mid = "0"
    m.sctp_port = 5000
    desc.media.append(m)
    assert desc.to_sdp() == (
        "v=0\r\no=- 1234 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\na=sctp-port:5000\r\n"
    )
    assert SessionDescription.parse(desc.to_sdp()) == desc


def test_optional_lines_order_and_ports() -> None:
    text = (
        "v=0\r\no=alice 1 2 IN IP6 2001:db8::1\r\ns=x\r\ni=info\r\nu=http://x\r\ne=a@b\r\n"
        "e=c@d\r\np=+1\r\nc=IN IP6 2001:db8::1\r\nb=AS:100\r\nb=TIAS:64000\r\nt=1 2\r\nr=7d 1h 0 25h\r\n"
        "t=3 4\r\nz=2882844526 -1h 2898848070 0\r\nk=prompt\r\na=recvonly\r\n"
        "m=video 49170/2 RTP/AVP 31\r\ni=video\r\nc=IN IP4 192.0.2.1/127\r\nc=IN IP4 192.0.2.2/127\r\n"
        "b=AS:50\r\nk=clear:abc\r\na=rtpmap:31 H261/90000\r\n"
    )
    desc = SessionDescription.parse(text)
    assert desc.to_sdp() == text
    assert [(t.start, t.stop, t.repeats) for t in desc.timing] == [
        (1, 2, ["7d 1h 0 25h"]),
        (3, 4, []),
    ]
    assert [(b.type, b.value) for b in desc.bandwidths] == [("AS", 100), ("TIAS", 64000)]
    assert desc.zone == "2882844526 -1h 2898848070 0" and desc.key == "prompt"
    m = desc.media[0]
    assert (m.port, m.number_of_ports) == (49170, 2)
    assert len(m.connections) == 2 and m.key == "clear:abc" and m.information == "video"
    assert desc.direction == "recvonly"


# ---------------------------------------------------------------- errors

GOOD = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n"


@pytest.mark.parametrize(
    ("text", "line_number", "line"),
    [
        ("", 1, ""),
        ("o=- 1 1 IN IP4 0.0.0.0\r\n", 1, "o=- 1 1 IN IP4 0.0.0.0"),
        ("v=1\r\n", 1, "v=1"),
        (GOOD.replace("v=0\r\n", ""), 1, "o=- 1 1 IN IP4 0.0.0.0"),
        (GOOD.replace("o=- 1 1", "o=- 1"), 2, "o=- 1 IN IP4 0.0.0.0"),
        (GOOD.replace("o=- 1 1", "o=- x 1"), 2, "o=- x 1 IN IP4 0.0.0.0"),
        (GOOD.replace("s=-\r\n", ""), 3, "t=0 0"),
        (GOOD.replace("t=0 0\r\n", ""), 4, "m=audio 9 RTP/AVP 0"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", 4, ""),
        (GOOD.replace("t=0 0", "t=0"), 4, "t=0"),
        (GOOD.replace("m=audio 9", "m=audio 70000"), 5, "m=audio 70000 RTP/AVP 0"),
        (GOOD.replace("m=audio 9", "m=audio x"), 5, "m=audio x RTP/AVP 0"),
        (GOOD.replace("m=audio 9", "m=audio \u0663"), 5, "m=audio \u0663 RTP/AVP 0"),
        (GOOD.replace("t=0 0", "t=0 \u00b2"), 4, "t=0 \u00b2"),
        (GOOD.replace("m=audio 9", "m=audio 9/0"), 5, "m=audio 9/0 RTP/AVP 0"),
        (GOOD.replace(" RTP/AVP 0", " RTP/AVP"), 5, "m=audio 9 RTP/AVP"),
        (GOOD.replace("m=audio 9 RTP/AVP 0", "m=audio"), 5, "m=audio"),
        (GOOD + "garbage\r\n", 7, "garbage"),
        (GOOD + "x=unknown\r\n", 7, "x=unknown"),
        (GOOD + "a=\r\n", 7, "a="),
        (GOOD + "a=bad name:1\r\n", 7, "a=bad name:1"),
        (GOOD + "a=mid\x00:1\r\n", 7, "a=mid\x00:1"),
        (GOOD + "c=IN IP4\r\n", 7, "c=IN IP4"),
        (GOOD + "b=AS\r\n", 7, "b=AS"),
        (GOOD + "b=AS:x\r\n", 7, "b=AS:x"),
        (GOOD + "t=0 0\r\n", 7, "t=0 0"),
        (GOOD + "v=0\r\n", 7, "v=0"),
        (GOOD.replace("a=mid:0\r\n", "a=mid:0\r\ni=late\r\n"), 7, "i=late"),
        (GOOD.replace("t=0 0\r\n", "t=0 0\r\ns=again\r\n"), 5, "s=again"),
        (
            GOOD.replace("t=0 0\r\n", "c=IN IP4 0.0.0.0\r\nt=0 0\r\nc=IN IP4 0.0.0.0\r\n"),
            6,
            "c=IN IP4 0.0.0.0",
        ),
        (GOOD.replace("s=-\r\n", "s=-\r\nr=1 2 3\r\n"), 4, "r=1 2 3"),
        (GOOD.replace("a=mid:0", "a=mid:0\rjunk"), 6, "a=mid:0\rjunk"),
    ],
)
def test_malformed(text: str, line_number: int, line: str) -> None:
    with pytest.raises(SDPParseError) as info:
        SessionDescription.parse(text)
    err = info.value
    assert (err.line_number, err.line) == (line_number, line)
    assert f"line {line_number}" in str(err)
    assert isinstance(err, ValueError)


def test_not_utf8() -> None:
    with pytest.raises(SDPParseError) as info:
        SessionDescription.parse(b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=\xff\r\n")
    assert info.value.line_number == 3


@pytest.mark.parametrize(
    ("attr", "helper"),
    [
        ("a=sctp-port:x", "sctp_port"),
        ("a=max-message-size:-1", "max_message_size"),
        ("a=rtpmap:96", "rtpmaps"),
        ("a=rtpmap:300 opus/48000", "rtpmaps"),
        ("a=rtpmap:96 opus", "rtpmaps"),
        ("a=fmtp:x a=b", "fmtps"),
        ("a=rtcp-fb:96", "rtcp_fb"),
        ("a=extmap:x urn:a", "extmaps"),
        ("a=extmap:1/sideways urn:a", "extmaps"),
        ("a=extmap:1", "extmaps"),
        ("a=msid:", "msid"),
        ("a=ssrc:abc cname:x", "ssrcs"),
        ("a=ssrc:1", "ssrcs"),
        ("a=ssrc-group:FID 1 x", "ssrc_groups"),
        ("a=rid:a sideways", "rids"),
        ("a=simulcast:send", "simulcast"),
        ("a=simulcast:up a", "simulcast"),
        ("a=simulcast:send a;;b", "simulcast"),
        ("a=fingerprint:sha-256", "fingerprints"),
        ("a=candidate:1 1 udp x 1.2.3.4 1 typ host", "candidates"),
        ("a=group:", "groups"),
        ("a=msid-semantic:", "msid_semantic"),
    ],
)
def test_bad_attribute_values_raise_parse_error_with_line(attr: str, helper: str) -> None:
    desc = SessionDescription.parse(GOOD + attr + "\r\n")
    with pytest.raises(SDPParseError) as info:
        getattr(desc.media[0], helper)
    assert (info.value.line_number, info.value.line) == (7, attr)


def test_leading_zeros_are_accepted_and_normalised() -> None:
    text = "v=0\r\no=- 01 002 IN IP4 0.0.0.0\r\ns=-\r\nb=AS:010\r\nt=00 0\r\nm=audio 0009/02 RTP/AVP 0\r\n"
    desc = SessionDescription.parse(text)
    assert desc.origin.session_id == "01" and desc.origin.session_version == 2
    assert (desc.media[0].port, desc.media[0].number_of_ports) == (9, 2)
    assert desc.to_sdp() == (
        "v=0\r\no=- 01 2 IN IP4 0.0.0.0\r\ns=-\r\nb=AS:10\r\nt=0 0\r\nm=audio 9/2 RTP/AVP 0\r\n"
    )
