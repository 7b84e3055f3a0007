"""W3C RTCSessionDescription."""

from __future__ import annotations

import pathlib

import pytest

from rtcpeer.sdp import RTCSessionDescription, SDPParseError

SDP = (
    pathlib.Path(__file__).resolve().parent.parent
    / "data"
    / "sdp"
    / "chromium_datachannel_offer.sdp"
).read_text()


def test_from_dict_and_keywords() -> None:
    a = RTCSessionDescription({"type": "offer", "sdp": SDP})
    b = RTCSessionDescription(type="offer", sdp=SDP)
    c = RTCSessionDescription("offer", SDP)
    assert a == b == c and hash(a) == hash(b)
    assert (a.type, a.sdp) == ("offer", SDP)
    assert a.toJSON() == {"type": "offer", "sdp": SDP}
    assert RTCSessionDescription(a.toJSON()) == a
    assert a.parsed().media[0].mid == "0"
    assert "offer" in repr(a)


@pytest.mark.parametrize("kind", ["offer", "pranswer", "answer", "rollback"])
def test_types(kind: str) -> None:
    desc = RTCSessionDescription({"type": kind})
    assert desc.type == kind and desc.sdp == ""


@pytest.mark.parametrize(
    "init", [{}, {"type": "Offer"}, {"type": "bogus", "sdp": ""}, {"sdp": SDP}]
)
def test_bad_type_is_type_error(init: dict[str, str]) -> None:
    with pytest.raises(TypeError):
        RTCSessionDescription(init)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        RTCSessionDescription(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RTCSessionDescription({"type": "offer", "sdp": 5})
    with pytest.raises(TypeError):
        RTCSessionDescription()


def test_read_only_and_lazy_parse() -> None:
    desc = RTCSessionDescription({"type": "answer", "sdp": "garbage"})
    with pytest.raises(AttributeError):
        desc.type = "offer"  # type: ignore[misc]
    with pytest.raises(SDPParseError):
        desc.parsed()
