"""Property tests: generated descriptions round-trip; random and mutated text raise only
SDPParseError (from the parser and from every typed helper)."""

from __future__ import annotations

import pathlib

from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SDPParseError,
    SessionDescription,
    Timing,
)

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "sdp"
SEEDS = [p.read_bytes().decode() for p in sorted(DATA.glob("*.sdp"))]

TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!#$%&'*+^_`{|}~"
token = st.text(alphabet=TOKEN_ALPHABET, min_size=1, max_size=12)
# Printable text without line breaks or NUL (RFC 8866 "byte-string", minus CR/LF).
text_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n\x00"),
    max_size=30,
)
word = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\r\n\x00 "
    ),
    min_size=1,
    max_size=16,
)
uint = st.integers(0, 2**63)

attributes = st.lists(st.builds(Attribute, token, st.none() | text_value), max_size=6)
connections = st.builds(Connection, token, token, word)
bandwidths = st.builds(Bandwidth, token, uint)
media = st.builds(
    MediaDescription,
    kind=token,
    port=st.integers(0, 65535),
    proto=st.sampled_from(["UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", "RTP/AVP", "TCP/DTLS/SCTP"]),
    fmt=st.lists(word, min_size=1, max_size=4),
    number_of_ports=st.none() | st.integers(1, 65535),
    information=st.none() | text_value,
    connections=st.lists(connections, max_size=2),
    bandwidths=st.lists(bandwidths, max_size=2),
    key=st.none() | text_value,
    attributes=attributes,
)
descriptions = st.builds(
    SessionDescription,
    origin=st.builds(Origin, word, uint.map(str), uint, token, token, word),
    session_name=text_value,
    information=st.none() | text_value,
    uri=st.none() | text_value,
    emails=st.lists(text_value, max_size=2),
    phones=st.lists(text_value, max_size=2),
    connection=st.none() | connections,
    bandwidths=st.lists(bandwidths, max_size=2),
    timing=st.lists(
        st.builds(Timing, uint, uint, st.lists(text_value, max_size=2)), min_size=1, max_size=2
    ),
    zone=st.none() | text_value,
    key=st.none() | text_value,
    attributes=attributes,
    media=st.lists(media, max_size=3),
)

HELPERS = (
    "mid",
    "ice_ufrag",
    "ice_pwd",
    "ice_options",
    "ice_lite",
    "setup",
    "fingerprints",
    "direction",
    "sctp_port",
    "max_message_size",
    "rtcp_mux",
    "rtcp_rsize",
    "candidates",
    "end_of_candidates",
    "rtpmaps",
    "fmtps",
    "rtcp_fb",
    "extmaps",
    "msid",
    "msid_semantic",
    "ssrcs",
    "ssrc_groups",
    "rids",
    "simulcast",
    "groups",
    "bundle_groups",
)


def parse_everything(text: str | bytes) -> None:
    """Parse and touch every typed helper; only SDPParseError may escape."""
    try:
        desc = SessionDescription.parse(text)
    except SDPParseError:
        return
    for section in [desc, *desc.media]:
        for name in HELPERS:
            try:
                getattr(section, name)
            except SDPParseError:
                pass
    for m in desc.media:
        try:
            _ = m.payload_types
        except SDPParseError:
            pass
    assert SessionDescription.parse(desc.to_sdp()) == desc


@given(descriptions)
def test_generated_descriptions_round_trip(desc: SessionDescription) -> None:
    text = desc.to_sdp()
    again = SessionDescription.parse(text)
    assert again == desc
    assert again.to_sdp() == text
    assert SessionDescription.parse(text.replace("\r\n", "\n")) == desc


@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    parse_everything(text)


@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    parse_everything(data)


@given(st.text(max_size=200))
def test_random_text_after_valid_header(text: str) -> None:
    parse_everything("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" + text)


@given(st.sampled_from(SEEDS), st.data())
def test_mutated_fixtures(seed: str, data: st.DataObject) -> None:
    text = seed
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 8))
        junk = data.draw(
            st.text(alphabet=st.sampled_from(list(" :/=\r\nav0123456789x-;~*,")), max_size=6)
        )
        text = text[:pos] + junk + text[pos + cut :]
    parse_everything(text)


@given(st.sampled_from(SEEDS), st.data())
def test_line_shuffles(seed: str, data: st.DataObject) -> None:
    lines = seed.split("\r\n") if "\r\n" in seed else seed.split("\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    j = data.draw(st.integers(0, len(lines) - 1))
    lines[i], lines[j] = lines[j], lines[i]
    parse_everything("\r\n".join(lines))
