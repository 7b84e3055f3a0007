"""Fuzz target: ``rtcpeer.sdp`` (SessionDescription.parse, the typed helpers, candidates).

The first input byte picks the victim (the rest is the input):

- 0 or 1: ``SessionDescription.parse`` on the bytes, then every typed helper of the session
  and of each media section, then write -> parse must give an equal description;
- 2: ``Candidate.from_sdp`` on the text; a parsed candidate must round-trip through ``to_sdp``;
- 3: ``RTCIceCandidate`` built from the text (never raises: bad text leaves fields None).

Only ``SDPParseError`` may escape the parsers; anything else is a crash.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterable

import _harness

_harness.require_atheris()
import atheris  # noqa: E402

with atheris.instrument_imports(include=["rtcpeer"]):
    from rtcpeer.sdp import Candidate, RTCIceCandidate, SDPParseError, SessionDescription

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "sdp"
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
    "payload_types",
)


def seeds() -> Iterable[bytes]:
    for path in sorted(FIXTURES.glob("*.sdp")):
        raw = path.read_bytes()
        yield b"\x00" + raw
        for line in raw.splitlines():
            if line.startswith(b"a=candidate:"):
                yield b"\x02" + line
                yield b"\x03" + line[2:]
    yield b"\x02candidate:1 1 udp 1 host.local 9 typ host tcptype passive x-ext 1"


def _sdp(payload: bytes) -> None:
    try:
        desc = SessionDescription.parse(payload)
    except SDPParseError:
        return
    for section in [desc, *desc.media]:
        for name in HELPERS:
            try:
                getattr(section, name, None)
            except SDPParseError:
                pass
    text = desc.to_sdp()
    if SessionDescription.parse(text) != desc:
        raise AssertionError("write -> parse changed the description")


def _candidate(text: str) -> None:
    try:
        cand = Candidate.from_sdp(text)
    except SDPParseError:
        return
    if Candidate.from_sdp(cand.to_sdp()) != cand:
        raise AssertionError(f"candidate round trip changed {text!r}")


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    mode, payload = data[0] & 3, data[1:]
    if mode < 2:
        _sdp(payload)
        return
    text = payload.decode("utf-8", "replace")
    if mode == 2:
        _candidate(text)
    else:
        ic = RTCIceCandidate({"candidate": text, "sdpMid": "0"})
        ic.toJSON()
        ic.to_candidate()


if __name__ == "__main__":
    _harness.main(TestOneInput)
    sys.exit(0)
