"""RFC 4571 framing for ICE-TCP."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.ice.tcpframing import Deframer, frame


def test_frame_and_split_across_reads() -> None:
    stream = frame(b"abc") + frame(b"") + frame(b"\x00" * 300)
    d = Deframer()
    assert d.feed(stream[:1]) == []
    assert d.feed(stream[1:4]) == []
    assert d.feed(stream[4:6]) == [b"abc"]
    assert d.pending == 1
    assert d.feed(stream[6:]) == [b"", b"\x00" * 300]
    assert d.pending == 0


def test_oversized_frame_rejected() -> None:
    with pytest.raises(ValueError):
        frame(b"x" * 65536)


@given(st.lists(st.binary(max_size=70), max_size=20), st.integers(1, 50))
def test_any_chunking_roundtrips(packets: list[bytes], chunk: int) -> None:
    stream = b"".join(frame(p) for p in packets)
    d = Deframer()
    out: list[bytes] = []
    for i in range(0, len(stream), chunk):
        out += d.feed(stream[i : i + chunk])
    assert out == packets and d.pending == 0
