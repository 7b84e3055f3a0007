"""Fuzz target: SCTP packets and chunks (``rtcpeer.sctp.chunks``) and ``Association.receive``.

The first input byte picks what is fuzzed (the rest is the packet):

- 0: ``parse_packet(data, verify=False)``: only ``ParseError`` may escape; a packet that parses
  re-encodes to something that parses again to the same chunk types.
- 1: an established association receives the packet with its verification tag and CRC32c
  patched in, so the fuzzer reaches chunk handling instead of the cheap drops.
- 2: a fresh server association (no INIT yet) receives it with the CRC32c patched in.
``Association.receive`` must never raise.
"""

from __future__ import annotations

import random
import struct
import sys
from collections.abc import Iterable

import _harness

_harness.require_atheris()

with _harness.instrument("rtcpeer.sctp"):
    from rtcpeer.sctp.association import Association
    from rtcpeer.sctp.chunks import ParseError, finish_packet, parse_packet


def _pump(a: Association, b: Association, until: float = 30.0) -> float:
    now = 0.0
    while now < until:
        moved = False
        for p in a.packets_to_send():
            b.receive(p, now)
            moved = True
        for p in b.packets_to_send():
            a.receive(p, now)
            moved = True
        if a.state.value == "established" and b.state.value == "established" and not moved:
            break
        if not moved:
            times = [t for t in (a.next_timeout(), b.next_timeout()) if t is not None]
            if not times:
                break
            now = max(now, min(times))
            a.timeout(now)
            b.timeout(now)
    return now


def _established() -> tuple[Association, Association, list[bytes]]:
    a = Association(True, rng=random.Random(1))
    b = Association(False, rng=random.Random(2))
    a.connect(0.0)
    b.connect(0.0)
    packets: list[bytes] = []
    now = 0.0
    for _ in range(20):
        for p in a.packets_to_send():
            packets.append(p)
            b.receive(p, now)
        for p in b.packets_to_send():
            packets.append(p)
            a.receive(p, now)
    a.send(1, 51, b"hello sctp")
    a.send(2, 53, b"\x00" * 3000, ordered=False)
    for p in a.packets_to_send():
        packets.append(p)
        b.receive(p, now)
    packets.extend(b.packets_to_send())
    return a, b, packets


_PEER, _VICTIM, _ = _established()


def _with_crc(data: bytes, tag: int | None) -> bytes:
    if len(data) < 12:
        data = data + bytes(12 - len(data))
    header = data[:8] if tag is None else data[:4] + struct.pack("!I", tag)
    return finish_packet(header, data[12:])


def seeds() -> Iterable[bytes]:
    _, _, packets = _established()
    for p in packets:
        yield b"\x00" + p
        yield b"\x01" + p
        yield b"\x02" + p


def TestOneInput(data: bytes) -> None:
    global _PEER, _VICTIM
    if not data:
        return
    mode, payload = data[0] % 3, data[1:]
    if mode == 0:
        try:
            packet = parse_packet(payload, verify=False)
        except ParseError:
            return
        again = parse_packet(packet.encode())
        if [type(c) for c in again.chunks] != [type(c) for c in packet.chunks]:
            raise AssertionError("SCTP packet did not survive a re-encode")
        return
    if mode == 1:
        _VICTIM.receive(_with_crc(payload, _VICTIM.local_tag), 1.0)
        _VICTIM.packets_to_send()
        _VICTIM.events()
        _VICTIM.timeout(2.0)
        _VICTIM.packets_to_send()
        if _VICTIM.state.value != "established":
            _PEER, _VICTIM, _ = _established()
        return
    fresh = Association(False, rng=random.Random(3))
    fresh.receive(_with_crc(payload, None), 0.0)
    fresh.packets_to_send()
    fresh.events()


if __name__ == "__main__":
    _harness.main(TestOneInput)
    sys.exit(0)
