"""Fuzz target: ``rtcpeer.stun`` (STUN messages, attribute values, ChannelData, stream framing)
and the TURN client/server cores fed the same bytes.

The first input byte picks the victim (the rest is the input):

- 0: ``parse`` then every typed getter, ``attributes()``, ``check_integrity`` and a re-encode
  that must parse back to the same attribute list;
- 1: ``parse_channel_data`` and the TCP ``StreamFramer`` (in two chunks);
- 2: a ``TurnServerCore`` and an allocated-looking ``TurnClient`` receive the bytes.

Only ``rtcpeer.stun.ParseError`` may escape the parsers; the cores must never raise.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import _harness

_harness.require_atheris()

with _harness.instrument("rtcpeer"):
    from rtcpeer.stun import Attr, MessageClass, Method, ParseError, StunMessage, parse
    from rtcpeer.stun.attributes import CODECS
    from rtcpeer.stun.channeldata import StreamFramer, encode_channel_data, parse_channel_data
    from rtcpeer.stun.turn_client import TurnClient
    from rtcpeer.turnserver import TurnServerCore

TID = bytes(range(12))


def seeds() -> Iterable[bytes]:
    req = StunMessage(Method.BINDING, MessageClass.REQUEST, TID)
    req.add(Attr.USERNAME, "a:b").add(Attr.PRIORITY, 1).add(Attr.ICE_CONTROLLING, 2)
    req.add(Attr.USE_CANDIDATE, True)
    yield b"\x00" + req.encode(b"key", fingerprint=True)
    resp = StunMessage(Method.ALLOCATE, MessageClass.SUCCESS, TID)
    resp.add(Attr.XOR_RELAYED_ADDRESS, ("2001:db8::1", 5000))
    resp.add(Attr.XOR_MAPPED_ADDRESS, ("192.0.2.1", 1))
    resp.add(Attr.LIFETIME, 600).add(Attr.ERROR_CODE, (438, "Stale Nonce"))
    resp.add(Attr.PASSWORD_ALGORITHMS, ((1, b""), (2, b"")))
    resp.add(Attr.UNKNOWN_ATTRIBUTES, (1, 2, 3))
    yield b"\x00" + resp.encode(b"k", fingerprint=True, integrity="both")
    yield b"\x01" + encode_channel_data(0x4001, b"hello", pad=True) + req.encode()
    ind = StunMessage(Method.DATA, MessageClass.INDICATION, TID)
    ind.add(Attr.XOR_PEER_ADDRESS, ("10.0.0.1", 9)).add(Attr.DATA, b"x")
    yield b"\x02" + ind.encode()
    yield b"\x02" + encode_channel_data(0x4000, b"abc")


def _stun(payload: bytes) -> None:
    try:
        msg = parse(payload)
    except ParseError:
        return
    for t in CODECS:
        msg.get(t)
    attrs = msg.attributes()
    msg.check_integrity(b"k")
    again = parse(msg.encode())
    skip = (Attr.MESSAGE_INTEGRITY, Attr.MESSAGE_INTEGRITY_SHA256, Attr.FINGERPRINT)
    if [a for a in again.attributes() if a[0] not in skip] != [
        a for a in attrs if a[0] not in skip
    ]:
        raise AssertionError("re-encode changed the attributes")


def _channel(payload: bytes) -> None:
    try:
        parse_channel_data(payload)
    except ParseError:
        pass
    framer = StreamFramer()
    half = len(payload) // 2
    try:
        framer.feed(payload[:half])
        framer.feed(payload[half:])
    except ParseError:
        pass


_core = TurnServerCore("r", users={"u": "p"}, relay_factory=lambda f: (("127.0.0.1", 1), 1))
_client = TurnClient(("127.0.0.1", 3478), "u", "p")
_client.start(0.0)


def _cores(payload: bytes) -> None:
    _core.receive_client(payload, "udp", ("127.0.0.1", 2), 1.0)
    _core.receive_peer(payload, 1, ("127.0.0.1", 3), 1.0)
    _core.to_clients()
    _core.to_peers()
    _client.receive(payload, 1.0)
    _client.events()
    _client.datagrams_to_send()


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    mode, payload = data[0] % 3, data[1:]
    if mode == 0:
        _stun(payload)
    elif mode == 1:
        _channel(payload)
    else:
        _cores(payload)


if __name__ == "__main__":
    _harness.main(TestOneInput)
    sys.exit(0)
