"""DtlsCore.send_many / receive_many: the batched forms of send + datagrams_to_send and of
receive give exactly what the per-record calls give, on the fast (cffi) path and without it."""

from __future__ import annotations

import pytest
from dtls_helpers import make_pair, pump
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer.dtls import DtlsCore, DtlsState


def _pair(fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[DtlsCore, DtlsCore]:
    from rtcpeer.dtls import transport

    if not fast:
        monkeypatch.setattr(transport._Fast, "available", staticmethod(lambda conn: False))
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    pump(client, server)
    assert client.connected and server.connected
    assert (client._fast is not None) is fast
    client.events()
    server.events()
    return client, server


@pytest.mark.parametrize("fast", [True, False])
def test_send_many_and_receive_many_round_trip(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    client, server = _pair(fast, monkeypatch)
    packets = [bytes([i]) * (1 + i * 37 % 1200) for i in range(100)]
    datagrams = client.send_many(packets)
    assert len(datagrams) == 100
    assert client.datagrams_to_send() == []  # nothing left behind
    assert server.receive_many(datagrams, 0.0) == packets
    # Replays are dropped silently, forged records too; the rest of the batch still arrives.
    forged = bytearray(datagrams[1])
    forged[-1] ^= 1
    more = client.send_many([b"after"])
    assert server.receive_many([datagrams[0], bytes(forged), *more], 0.0) == [b"after"]
    assert server.connected


@pytest.mark.parametrize("fast", [True, False])
def test_send_many_keeps_queued_datagrams_first_and_odd_packets(
    fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, server = _pair(fast, monkeypatch)
    assert client.send(b"queued first")
    out = client.send_many([b"a", b"", bytearray(b"b"), memoryview(b"c"), b"d"])  # type: ignore[list-item]
    assert server.receive_many(out, 0.0) == [b"queued first", b"a", b"b", b"c", b"d"]
    with pytest.raises(ValueError):
        client.send_many([b"x" * 16385])


def test_send_many_before_connected_and_after_close() -> None:
    client, server = make_pair()
    assert client.send_many([b"too early"]) == []
    client.start(0.0)
    server.start(0.0)
    pump(client, server)
    client.close()
    closing = client.datagrams_to_send()
    assert client.send_many([b"too late"]) == []
    assert server.receive_many(closing, 0.0) == []
    assert server.state is DtlsState.CLOSED


def test_receive_many_during_the_handshake() -> None:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    for _ in range(10):
        server.receive_many(client.datagrams_to_send(), 0.0)
        client.receive_many(server.datagrams_to_send(), 0.0)
    assert client.connected and server.connected
    assert server.receive_many(client.send_many([b"hi"]), 0.0) == [b"hi"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_receive_many_garbage_never_raises(garbage: list[bytes]) -> None:
    client, server = make_pair()
    client.start(0.0)
    server.start(0.0)
    pump(client, server)
    assert server.receive_many(garbage, 0.0) == []
    assert server.receive_many(client.send_many([b"ok"]), 0.0) == [b"ok"]
