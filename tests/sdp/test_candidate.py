"""Candidate attribute grammar (RFC 8839 section 5.1) and the W3C RTCIceCandidate."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.sdp import Candidate, RTCIceCandidate, SDPParseError

CHROME_HOST = (
    "candidate:3495275813 1 udp 2113937151 6f1b1f69-3a3e-4b1c-9f1e-2b8c6a3d4e5f.local 54321 "
    "typ host generation 0 ufrag Ab1c network-cost 999"
)
CHROME_SRFLX = (
    "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 0.0.0.0 rport 0 "
    "generation 0 ufrag EEtu network-id 3 network-cost 10"
)
CHROME_TCP = (
    "candidate:1077637316 1 tcp 1518280447 192.168.1.10 9 typ host tcptype active "
    "generation 0 ufrag EEtu network-id 1"
)
FIREFOX_RELAY = (
    "candidate:4 1 UDP 8265471 198.51.100.2 50123 typ relay raddr 198.51.100.2 rport 50123"
)


def test_chromium_mdns_host() -> None:
    c = Candidate.from_sdp(CHROME_HOST)
    assert c == Candidate(
        foundation="3495275813",
        component=1,
        transport="udp",
        priority=2113937151,
        host="6f1b1f69-3a3e-4b1c-9f1e-2b8c6a3d4e5f.local",
        port=54321,
        type="host",
        generation=0,
        ufrag="Ab1c",
        network_cost=999,
    )
    assert c.to_sdp() == CHROME_HOST


def test_srflx_related_and_network_id() -> None:
    c = Candidate.from_sdp("a=" + CHROME_SRFLX + "\r\n")
    assert (c.type, c.related_address, c.related_port) == ("srflx", "0.0.0.0", 0)
    assert (c.network_id, c.network_cost, c.ufrag, c.generation) == (3, 10, "EEtu", 0)
    assert c.to_sdp() == CHROME_SRFLX


def test_tcptype() -> None:
    c = Candidate.from_sdp(CHROME_TCP)
    assert (c.transport, c.tcptype, c.port) == ("tcp", "active", 9)
    assert c.to_sdp() == CHROME_TCP


def test_bare_value_and_upper_case_transport() -> None:
    c = Candidate.from_sdp(FIREFOX_RELAY[len("candidate:") :])
    assert c.transport == "udp"
    assert (c.foundation, c.priority, c.host, c.port) == ("4", 8265471, "198.51.100.2", 50123)
    assert c.to_sdp() == FIREFOX_RELAY.replace("UDP", "udp")


def test_unknown_extensions_kept_in_order() -> None:
    text = "candidate:1 1 udp 1 10.0.0.1 1000 typ host generation 1 x-foo bar x-baz 7"
    c = Candidate.from_sdp(text)
    assert c.extensions == [("x-foo", "bar"), ("x-baz", "7")]
    assert c.generation == 1
    assert c.to_sdp() == "candidate:1 1 udp 1 10.0.0.1 1000 typ host generation 1 x-foo bar x-baz 7"


def test_ipv6_host() -> None:
    c = Candidate.from_sdp("candidate:2 1 udp 2122262783 2001:db8::1 5000 typ host")
    assert c.host == "2001:db8::1"


def test_mutable_and_hashable_by_value() -> None:
    a = Candidate.from_sdp(CHROME_SRFLX)
    b = Candidate.from_sdp(CHROME_SRFLX)
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    b.host = "192.0.2.1"
    assert a != b


@pytest.mark.parametrize(
    "text",
    [
        "",
        "candidate:",
        "candidate:1 1 udp 1 10.0.0.1 1000 typ",
        "candidate:1 1 udp 1 10.0.0.1 1000 type host",
        "candidate:1 1 udp 1 10.0.0.1 70000 typ host",
        "candidate:1 1 udp 1 10.0.0.1 -1 typ host",
        "candidate:1 0 udp 1 10.0.0.1 1 typ host",
        "candidate:1 1 udp 4294967296 10.0.0.1 1 typ host",
        "candidate:1 1 udp x 10.0.0.1 1 typ host",
        "candidate:1 1 udp 1 10.0.0.1 1 typ host raddr",
        "candidate:1 1 udp 1 10.0.0.1 1 typ host rport 99999",
        "candidate:1 1 udp 1 10.0.0.1 1 typ host generation x",
        "candidate:" + "f" * 33 + " 1 udp 1 10.0.0.1 1 typ host",
        "candidate:a-b 1 udp 1 10.0.0.1 1 typ host",
        "candidate:1 1 udp \u00b2 10.0.0.1 1 typ host",
        "candidate:1 \u0663 udp 1 10.0.0.1 1 typ host",
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(SDPParseError) as info:
        Candidate.from_sdp(text)
    assert info.value.line == text
    assert info.value.line_number == 0


_ice = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/",
    min_size=1,
    max_size=32,
)
_tok = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-.!", min_size=1, max_size=12)
_word = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20
)
_opt_int = st.none() | st.integers(0, 2**32 - 1)

candidates = st.builds(
    Candidate,
    foundation=_ice,
    component=st.integers(1, 256),
    transport=st.sampled_from(["udp", "tcp"]),
    priority=st.integers(0, 2**32 - 1),
    host=_word,
    port=st.integers(0, 65535),
    type=st.sampled_from(["host", "srflx", "prflx", "relay"]),
    related_address=st.none() | _word,
    related_port=st.none() | st.integers(0, 65535),
    tcptype=st.none() | st.sampled_from(["active", "passive", "so"]),
    generation=st.none() | st.integers(0, 9999999999),
    ufrag=st.none() | _word,
    network_id=st.none() | st.integers(0, 9999999999),
    network_cost=st.none() | st.integers(0, 9999999999),
    extensions=st.lists(
        st.tuples(
            _tok.filter(
                lambda n: (
                    n
                    not in {
                        "raddr",
                        "rport",
                        "tcptype",
                        "generation",
                        "ufrag",
                        "network-id",
                        "network-cost",
                    }
                )
            ),
            _word,
        ),
        max_size=3,
    ),
)


@given(candidates)
def test_round_trip(c: Candidate) -> None:
    text = c.to_sdp()
    assert Candidate.from_sdp(text) == c
    assert Candidate.from_sdp("a=" + text + "\r\n") == c
    assert Candidate.from_sdp(text).to_sdp() == text


@given(st.text(max_size=200))
def test_random_text_only_parse_error(text: str) -> None:
    try:
        Candidate.from_sdp(text)
    except SDPParseError:
        pass


@given(candidates, st.data())
def test_mutated_only_parse_error(c: Candidate, data: st.DataObject) -> None:
    text = c.to_sdp()
    pos = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(max_size=5))
    cut = data.draw(st.integers(0, 3))
    mutated = text[:pos] + junk + text[pos + cut :]
    try:
        Candidate.from_sdp(mutated)
    except SDPParseError:
        pass


# ---------------------------------------------------------------- RTCIceCandidate

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "sdp"
FIELDS = (
    "candidate",
    "sdpMid",
    "sdpMLineIndex",
    "usernameFragment",
    "foundation",
    "component",
    "priority",
    "address",
    "protocol",
    "port",
    "type",
    "tcpType",
    "relatedAddress",
    "relatedPort",
)


def describe(ic: RTCIceCandidate) -> dict[str, Any]:
    out: dict[str, Any] = {f: getattr(ic, f) for f in FIELDS}
    out["toJSON"] = ic.toJSON()
    return out


def chromium_trickled() -> list[dict[str, Any]]:
    captured = json.loads((DATA / "chromium_candidates.json").read_text())
    return [c for k in ("datachannel", "audio_video") for c in captured[k]]


@pytest.mark.parametrize("entry", chromium_trickled(), ids=lambda e: e["candidate"][:40])
def test_rtcicecandidate_matches_chromium(entry: dict[str, Any]) -> None:
    ic = RTCIceCandidate(entry["toJSON"])
    assert describe(ic) == entry
    # Built from the Candidate the ICE agent produces, with the same mid/index/ufrag.
    cand = Candidate.from_sdp(entry["candidate"])
    again = RTCIceCandidate.from_candidate(
        cand, sdpMid=entry["sdpMid"], sdpMLineIndex=entry["sdpMLineIndex"]
    )
    assert describe(again) == entry


EDGE = json.loads((DATA / "chromium_rtcicecandidate.json").read_text())


@pytest.mark.parametrize("name", sorted(EDGE))
def test_rtcicecandidate_edge_cases_match_chromium(name: str) -> None:
    entry = EDGE[name]
    if "error" in entry:
        assert entry["error"] == "TypeError"
        with pytest.raises(TypeError):
            RTCIceCandidate(entry["init"])
        return
    assert describe(RTCIceCandidate(entry["init"])) == entry["result"]


def test_rtcicecandidate_fields() -> None:
    ic = RTCIceCandidate({"candidate": CHROME_SRFLX, "sdpMid": "0", "sdpMLineIndex": 0})
    assert ic.candidate == CHROME_SRFLX
    assert (ic.sdpMid, ic.sdpMLineIndex) == ("0", 0)
    assert ic.foundation == "842163049"
    assert ic.component == "rtp"
    assert ic.priority == 1677729535
    assert ic.address == "203.0.113.7"
    assert ic.protocol == "udp"
    assert ic.port == 46154
    assert ic.type == "srflx"
    assert ic.tcpType is None
    assert ic.relatedAddress == "0.0.0.0"
    assert ic.relatedPort == 0
    # Like Chromium: usernameFragment is what the init gave, not the line's "ufrag".
    assert ic.usernameFragment is None
    assert ic.toJSON() == {
        "candidate": CHROME_SRFLX,
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "",
    }


def test_rtcicecandidate_keywords_tcp_ipv6() -> None:
    text = "candidate:9 1 tcp 1518280447 2001:db8::5 9 typ host tcptype passive"
    ic = RTCIceCandidate(candidate=text, sdpMLineIndex=1, usernameFragment="zz")
    assert ic.sdpMid is None
    assert (ic.protocol, ic.tcpType, ic.usernameFragment) == ("tcp", "passive", "zz")
    assert ic.address == "[2001:db8::5]"
    assert ic.toJSON() == {
        "candidate": text,
        "sdpMid": "",
        "sdpMLineIndex": 1,
        "usernameFragment": "zz",
    }
    assert RTCIceCandidate(ic.toJSON()).candidate == text


def test_rtcicecandidate_requires_mid_or_index() -> None:
    with pytest.raises(TypeError):
        RTCIceCandidate({"candidate": CHROME_TCP})
    with pytest.raises(TypeError):
        RTCIceCandidate()
    with pytest.raises(TypeError):
        RTCIceCandidate(candidate=CHROME_TCP, sdpMid=None, sdpMLineIndex=None)
    with pytest.raises(TypeError):
        RTCIceCandidate(candidate=CHROME_TCP, sdpMLineIndex=-1)
    with pytest.raises(TypeError):
        RTCIceCandidate(candidate=CHROME_TCP, sdpMid=0)  # type: ignore[arg-type]


def test_rtcicecandidate_end_of_candidates_and_garbage() -> None:
    eoc = RTCIceCandidate({"candidate": "", "sdpMid": "0"})
    assert eoc.candidate == ""
    assert eoc.foundation is None and eoc.port is None and eoc.to_candidate() is None
    bad = RTCIceCandidate({"candidate": "candidate:nonsense", "sdpMid": "0"})
    assert bad.address is None and bad.type is None


def test_rtcicecandidate_from_candidate_and_equality() -> None:
    c = Candidate.from_sdp(CHROME_HOST)
    ic = RTCIceCandidate.from_candidate(c, sdpMid="0", sdpMLineIndex=0)
    assert ic.candidate == CHROME_HOST
    assert ic.usernameFragment == "Ab1c"
    assert ic.address == c.host
    assert ic.to_candidate() == c
    same = RTCIceCandidate(
        {"candidate": CHROME_HOST, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "Ab1c"}
    )
    assert ic == same and hash(ic) == hash(same)
    assert "Ab1c" in repr(ic)
