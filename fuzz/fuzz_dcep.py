"""Fuzz target: the Data Channel Establishment Protocol codec (RFC 8832, ``rtcpeer.sctp.dcep``).

Only ``rtcpeer.sctp.chunks.ParseError`` may escape ``parse_dcep``; an OPEN that parses encodes
back to bytes that parse to an equal message.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import _harness

_harness.require_atheris()

with _harness.instrument("rtcpeer.sctp.dcep", "rtcpeer.sctp.chunks"):
    from rtcpeer.sctp.chunks import ParseError
    from rtcpeer.sctp.dcep import DataChannelAck, DataChannelOpen, parse_dcep


def seeds() -> Iterable[bytes]:
    yield DataChannelAck().encode()
    # DATA_CHANNEL_OPEN: reliable ordered "chat", partial reliable, unordered with protocol
    yield bytes.fromhex("03000000000000000004000063686174")
    yield bytes.fromhex("03010100000000050003000466696c656a736f6e")
    yield bytes.fromhex("03820000000003e8000000") + b"\x00"


def TestOneInput(data: bytes) -> None:
    try:
        msg = parse_dcep(data)
    except ParseError:
        return
    if isinstance(msg, DataChannelOpen):
        if parse_dcep(msg.encode()) != msg:
            raise AssertionError("DATA_CHANNEL_OPEN did not round-trip")
    elif not isinstance(msg, DataChannelAck):
        raise AssertionError(f"parse_dcep returned {msg!r}")


if __name__ == "__main__":
    _harness.main(TestOneInput)
    sys.exit(0)
