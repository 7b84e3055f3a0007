"""Fuzz target: the Data Channel Establishment Protocol (RFC 8832) and the channel layer.

First input byte even: ``parse_dcep`` on the rest. Only ``rtcpeer.sctp.chunks.ParseError``
may escape; an OPEN that parses encodes back to bytes that parse to an equal message.

First byte odd: a real peer association sends the rest as one message to a connected
``DataChannelCore`` (bytes 1-2: stream id, byte 3: PPID choice, then the payload). The
channel layer must not raise and must keep within ``max_channels``.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable

import _harness

_harness.require_atheris()

with _harness.instrument("rtcpeer.sctp.dcep", "rtcpeer.sctp.chunks"):
    from rtcpeer.sctp.association import Association
    from rtcpeer.sctp.channels import DataChannelCore
    from rtcpeer.sctp.chunks import ParseError
    from rtcpeer.sctp.dcep import DataChannelAck, DataChannelOpen, parse_dcep

MAX_CHANNELS = 8
PPIDS = (50, 51, 53, 56, 57, 54, 52)


def _connected() -> tuple[Association, DataChannelCore]:
    peer = Association(True, rng=random.Random(5))
    victim = DataChannelCore(Association(False, rng=random.Random(6)), False, max_channels=8)
    peer.connect(0.0)
    victim.connect(0.0)
    for _ in range(20):
        for p in peer.packets_to_send():
            victim.receive(p, 0.0)
        for p in victim.packets_to_send():
            peer.receive(p, 0.0)
    victim.events()
    assert victim.connected
    return peer, victim


_PEER, _VICTIM = _connected()
_USES = 0


def seeds() -> Iterable[bytes]:
    messages = [
        DataChannelAck().encode(),
        # DATA_CHANNEL_OPEN: reliable ordered "chat", partial reliable, unordered + protocol
        bytes.fromhex("03000000000000000004000063686174"),
        bytes.fromhex("03010100000000050003000466696c656a736f6e"),
        bytes.fromhex("03820000000003e8000000") + b"\x00",
    ]
    for m in messages:
        yield b"\x00" + m
        yield b"\x01\x00\x01\x00" + m  # DCEP (PPID 50) on stream 1
        yield b"\x01\x00\x03\x00" + m
    yield b"\x01\x00\x01\x01hello"  # a string before the OPEN


def _through_channels(data: bytes) -> None:
    global _PEER, _VICTIM, _USES
    if len(data) < 4:
        return
    _USES += 1
    if _USES % 2000 == 0 or not _VICTIM.connected:
        _PEER, _VICTIM = _connected()  # keep the state from growing without bound
    sid = int.from_bytes(data[:2], "big") % 1024
    ppid = PPIDS[data[2] % len(PPIDS)]
    try:
        _PEER.send(sid, ppid, data[3:])
    except Exception:
        return  # the sending side refused: not what is fuzzed here
    for p in _PEER.packets_to_send():
        _VICTIM.receive(p, 1.0)
    for p in _VICTIM.packets_to_send():
        _PEER.receive(p, 1.0)
    _VICTIM.events()
    if len(_VICTIM.channel_ids()) > MAX_CHANNELS:
        raise AssertionError(f"{len(_VICTIM.channel_ids())} channels > max_channels")


def TestOneInput(data: bytes) -> None:
    if data[:1] and data[0] & 1:
        _through_channels(data[1:])
        return
    data = data[1:]
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
