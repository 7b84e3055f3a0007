"""JSEP offer/answer writer and the remote-description reader (round trips and fuzzing)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.sdp.errors import SDPParseError
from rtcpeer.sdp.jsep import LocalParams, LocalSection, parse_description, write_description

FP = ("sha-256", ":".join(["0A"] * 32))
ICE = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789+/", min_size=4, max_size=32)

CHROME_OFFER = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
    "a=candidate:2999745851 1 udp 2122260223 127.0.0.1 56143 typ host generation 0 "
    "network-id 1\r\n"
    "a=ice-ufrag:7sFv\r\na=ice-pwd:dOTZKZNVlO9RSGsEGM63JXT2\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 4F:DA:9B:43:2B:57:56:53:A4:71:95:FB:1D:84:9D:BA:81:16:A7:2C:7A:"
    "97:8B:9E:E1:A9:D9:5C:98:18:C2:97\r\n"
    "a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"
)


def test_parse_chrome_offer() -> None:
    desc = parse_description(CHROME_OFFER)
    assert desc.bundle == ["0"]
    m = desc.transport_media()
    assert m is not None and m.is_data and not m.rejected
    assert (m.mid, m.ice_ufrag, m.ice_pwd, m.setup) == (
        "0",
        "7sFv",
        "dOTZKZNVlO9RSGsEGM63JXT2",
        "actpass",
    )
    assert m.sctp_port == 5000 and m.max_message_size == 262144
    assert m.fingerprints[0][0] == "sha-256" and m.fingerprints[0][1].startswith("4F:DA")
    assert m.candidates[0].startswith("candidate:2999745851 1 udp")
    assert m.ice_options == ["trickle"]
    assert desc.find("0", None) is m and desc.find(None, 0) is m and desc.find("x", None) is None


def test_session_level_attributes_inherited_and_overridden() -> None:
    sdp = (
        "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\nt=0 0\na=ice-ufrag:sess\na=ice-pwd:sessionpasswordsession\n"
        "a=fingerprint:sha-1 AA:BB\na=setup:passive\n"
        "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\na=mid:r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\na=mid:d\n"
        "a=fingerprint:sha-256 cc:dd\na=sctpmap:5001 webrtc-datachannel 1024\n"
    )
    desc = parse_description(sdp)
    rejected, data = desc.media
    assert rejected.rejected and not data.rejected
    assert desc.transport_media() is data
    assert data.ice_ufrag == "sess" and data.setup == "passive"
    assert data.fingerprints == [("sha-256", "CC:DD")]
    assert rejected.fingerprints == [("sha-1", "AA:BB")]
    assert data.sctp_port == 5001


@pytest.mark.parametrize(
    "text",
    ["", "x", "v=1\r\n", "v=0\r\nm=audio\r\n", "v=0\r\nm=audio x RTP 0\r\n", "v=0\r\nbad\r\n"],
)
def test_malformed(text: str) -> None:
    with pytest.raises(SDPParseError):
        parse_description(text)


@given(
    ufrag=ICE,
    pwd=ICE,
    setup=st.sampled_from(["actpass", "active", "passive"]),
    mms=st.integers(min_value=0, max_value=2**31),
    rejected=st.lists(st.booleans(), min_size=1, max_size=4),
    eoc=st.booleans(),
)
def test_write_parse_round_trip(
    ufrag: str, pwd: str, setup: str, mms: int, rejected: list[bool], eoc: bool
) -> None:
    sections = [LocalSection(str(i), rejected=r) for i, r in enumerate(rejected)]
    params = LocalParams(ufrag, pwd, [FP], setup, max_message_size=mms)
    cand = "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"
    text = write_description(7, 3, sections, params, [cand], eoc)
    desc = parse_description(text)
    assert [m.mid for m in desc.media] == [s.mid for s in sections]
    assert desc.bundle == [s.mid for s in sections if not s.rejected]
    for m, r in zip(desc.media, rejected, strict=True):
        assert m.rejected == r
        if not r:
            assert (m.ice_ufrag, m.ice_pwd, m.setup) == (ufrag, pwd, setup)
            assert m.max_message_size == mms and m.sctp_port == 5000
            assert m.fingerprints == [FP] and m.candidates == [cand]
            assert m.end_of_candidates == eoc


@given(st.text(max_size=400))
def test_random_text_only_raises_parse_error(text: str) -> None:
    try:
        parse_description(text)
    except SDPParseError:
        pass


@given(
    st.lists(
        st.sampled_from(
            [
                "v=0",
                "m=application 9 UDP/DTLS/SCTP x",
                "a=mid:",
                "a=sctp-port:",
                "a=max-message-size:9",
                "a=fingerprint:x",
                "a=candidate:1",
                "a=group:BUNDLE",
                "a=setup:",
                "m=audio 0 RTP",
                "a=sctpmap:",
                "a=ice-ufrag",
                "c=IN",
            ]
        ),
        max_size=30,
    )
)
def test_random_lines_only_raise_parse_error(lines: list[str]) -> None:
    try:
        parse_description("\r\n".join(lines))
    except SDPParseError:
        pass
