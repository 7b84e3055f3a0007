"""Fuzz target: RFC 7983 demultiplexing and ``DtlsCore.receive`` on hostile datagrams.

The first input byte picks the victim (the rest is the datagram):

- 0 / 4: a connected server / client core. It must return a list of ``bytes`` and stay
  connected: garbage, replays and forged records never tear down an authenticated association.
- 1: a fresh server waiting for a ClientHello; 2: a client that sent its ClientHello;
  3: a server that received a real ClientHello and waits for the client's second flight.
  None of them may raise or become connected on input that did not come from the peer.
  The payload may hold several datagrams separated by ``b"||"``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import _harness

_harness.require_atheris()

with _harness.instrument("rtcpeer.dtls"):
    from rtcpeer.dtls import DtlsCore, DtlsState, RTCCertificate, classify
    from rtcpeer.dtls.demux import classify_datagram

CERT_C = RTCCertificate.generate()
CERT_S = RTCCertificate.generate()
FP_C = [("sha-256", CERT_C.fingerprint())]
FP_S = [("sha-256", CERT_S.fingerprint())]


def _pair() -> tuple[DtlsCore, DtlsCore]:
    return DtlsCore(CERT_C, "client", FP_S, srtp=True), DtlsCore(CERT_S, "server", FP_C, srtp=True)


def _handshake() -> tuple[DtlsCore, DtlsCore, list[tuple[int, bytes]]]:
    client, server = _pair()
    client.start(0.0)
    server.start(0.0)
    transcript: list[tuple[int, bytes]] = []
    for _ in range(10):
        for d in client.datagrams_to_send():
            transcript.append((0, d))
            server.receive(d, 0.0)
        for d in server.datagrams_to_send():
            transcript.append((1, d))
            client.receive(d, 0.0)
    assert client.connected and server.connected
    client.events()
    server.events()
    return client, server, transcript


_CLIENT, _SERVER, _TRANSCRIPT = _handshake()
_CLIENT_HELLO = _TRANSCRIPT[0][1]


def seeds() -> Iterable[bytes]:
    client, server, transcript = _handshake()
    client_flights = [d for who, d in transcript if who == 0]
    server_flights = [d for who, d in transcript if who == 1]
    yield b"\x01" + client_flights[0]
    for d in server_flights:
        yield b"\x02" + d
    for d in client_flights[1:]:
        yield b"\x03" + d
    client.send(b"\x03\x00\x00\x00hello")
    for d in client.datagrams_to_send():
        yield b"\x00" + d
    server.send(b"hello back")
    for d in server.datagrams_to_send():
        yield b"\x04" + d
    yield b"\x03" + b"||".join(client_flights[1:])
    yield b"\x00\x00\x01\x00\x00\x21\x12\xa4\x42" + bytes(12)  # STUN binding request
    yield b"\x00\x80\x60\x00\x01" + bytes(20)  # an RTP header


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    mode, payload = data[0] % 5, data[1:]
    kind = classify_datagram(payload)
    if payload and kind != classify(payload[0]):
        raise AssertionError("classify_datagram disagrees with classify")
    if mode in (0, 4):
        core = _SERVER if mode == 0 else _CLIENT
        out = core.receive(payload, 1.0)
        if not isinstance(out, list) or not all(isinstance(r, bytes) for r in out):
            raise AssertionError(f"receive returned {out!r}")
        core.datagrams_to_send()
        if core.state is not DtlsState.CONNECTED:
            raise AssertionError(f"a forged datagram moved a connected core to {core.state}")
        return
    client, server = _pair()
    if mode == 1:
        server.start(0.0)
        victim = server
    elif mode == 2:
        client.start(0.0)
        client.datagrams_to_send()
        victim = client
    else:
        server.start(0.0)
        server.receive(_CLIENT_HELLO, 0.0)
        server.datagrams_to_send()
        victim = server
    for datagram in payload.split(b"||"):
        if victim.receive(datagram, 0.5) != []:
            raise AssertionError("application data before the handshake finished")
    victim.timeout(1.5)
    victim.datagrams_to_send()
    if victim.state is DtlsState.CONNECTED:
        raise AssertionError("connected on forged handshake input")


if __name__ == "__main__":
    _harness.main(TestOneInput)
    sys.exit(0)
