"""TurnClient and TurnServerCore wired together in memory with a fake clock."""

from __future__ import annotations

import random
from collections.abc import Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcpeer.stun import Attr, MessageClass, Method, StunMessage, long_term_key, parse
from rtcpeer.stun.channeldata import encode_channel_data, parse_channel_data
from rtcpeer.stun.turn_client import (
    AllocationFailed,
    AllocationLost,
    AllocationRefreshed,
    AllocationSucceeded,
    ChannelBound,
    PermissionCreated,
    TurnClient,
    TurnClosed,
)
from rtcpeer.turnserver import TurnServerCore, rest_credentials

SERVER = ("192.0.2.1", 3478)
CLIENT = ("10.0.0.2", 5000)
PEER = ("198.51.100.7", 7000)
RELAY_IP = "192.0.2.1"


class Net:
    """Moves bytes between one TurnClient, the core and a fake peer; counts messages."""

    def __init__(self, client: TurnClient, core: TurnServerCore, addr=CLIENT) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.core = core
        self.addr = addr
        self.now = 1000.0
        self.drop_up = 0  # drop this many client->server messages
        self.sent_up: list[tuple[float, bytes]] = []
        self.sent_down: list[bytes] = []
        self.peer_inbox: list[tuple[bytes, Hashable, tuple[str, int]]] = []
        self.app: list[tuple[tuple[str, int], bytes]] = []
        self.events: list[object] = []

    def flush(self) -> None:
        for _ in range(20):
            moved = False
            for data in self.client.datagrams_to_send():
                moved = True
                self.sent_up.append((self.now, data))
                if self.drop_up:
                    self.drop_up -= 1
                    continue
                self.core.receive_client(data, "udp", self.addr, self.now)
            for data, _conn, _addr in self.core.to_clients():
                moved = True
                self.sent_down.append(data)
                self.app.extend(self.client.receive(data, self.now))
            self.peer_inbox.extend(self.core.to_peers())
            self.events.extend(self.client.events())
            if not moved:
                return

    def run_until(self, t: float) -> None:
        while True:
            nexts = [x for x in (self.client.next_timeout(), self.core.next_timeout()) if x]
            nxt = min(nexts) if nexts else None
            if nxt is None or nxt > t:
                self.now = t
                self.core.timeout(t)
                self.flush()
                return
            self.now = max(self.now, nxt)
            self.client.timeout(self.now)
            self.core.timeout(self.now)
            self.flush()

    def of(self, kind: type) -> list[object]:
        return [e for e in self.events if isinstance(e, kind)]


def make(users: dict[str, str] | None = None, **kw: object) -> TurnServerCore:
    ports = iter(range(50000, 60000))

    def factory(family: int) -> tuple[tuple[str, int], Hashable]:
        port = next(ports)
        return (RELAY_IP, port), f"relay{port}"

    return TurnServerCore("example.org", users=users or {"u": "p"}, relay_factory=factory, **kw)  # type: ignore[arg-type]


def allocated(core: TurnServerCore | None = None, **kw: object) -> Net:
    core = core or make()
    net = Net(TurnClient(SERVER, "u", "p", **kw), core)  # type: ignore[arg-type]
    net.client.start(net.now)
    net.flush()
    return net


def test_allocate_with_challenge() -> None:
    net = allocated()
    up = [parse(d) for _, d in net.sent_up]
    assert [m.method for m in up] == [Method.ALLOCATE, Method.ALLOCATE]
    assert not up[0].has(Attr.MESSAGE_INTEGRITY)
    assert up[0].get(Attr.REQUESTED_TRANSPORT) == 17
    assert up[1].get(Attr.USERNAME) == "u"
    assert up[1].get(Attr.REALM) == "example.org"
    assert up[1].check_integrity(long_term_key("u", "example.org", "p"))
    ok = net.of(AllocationSucceeded)
    assert ok == [AllocationSucceeded((RELAY_IP, 50000), CLIENT, 600)]
    assert net.client.state == "allocated"


def test_wrong_password_is_401() -> None:
    net = Net(TurnClient(SERVER, "u", "bad"), make())
    net.client.start(net.now)
    net.flush()
    assert net.of(AllocationFailed) == [AllocationFailed(401, "Unauthenticated")]
    assert net.client.state == "failed"
    assert net.core.allocations == []


def test_send_permission_indication_then_channel() -> None:
    net = allocated()
    assert net.client.send(b"one", PEER, net.now)
    net.flush()
    assert net.of(PermissionCreated) == [PermissionCreated(PEER[0])]
    assert [(d, p) for d, _, p in net.peer_inbox] == [(b"one", PEER)]
    assert net.of(ChannelBound) == [ChannelBound(PEER, 0x4000)]
    # Now bound: outgoing ChannelData is 4 bytes of header.
    net.sent_up.clear()
    net.client.send(b"two", PEER, net.now)
    net.flush()
    assert net.sent_up[-1][1] == encode_channel_data(0x4000, b"two")
    assert net.peer_inbox[-1][0] == b"two"
    # Peer to client: ChannelData through the bound channel.
    relay = net.peer_inbox[-1][1]
    net.core.receive_peer(b"back", relay, PEER, net.now)
    ((data, _, _),) = net.core.to_clients()
    assert parse_channel_data(data)[0] == 0x4000
    assert net.client.receive(data, net.now) == [(PEER, b"back")]
    # Another peer on a permitted IP without a channel: Data indication.
    other = (PEER[0], 7001)
    net.core.receive_peer(b"hi", relay, other, net.now)
    ((data, _, _),) = net.core.to_clients()
    assert parse(data).method == Method.DATA
    assert net.client.receive(data, net.now) == [(other, b"hi")]
    # A peer IP without permission is dropped by the server.
    net.core.receive_peer(b"x", relay, ("203.0.113.9", 1), net.now)
    assert net.core.to_clients() == []


def test_refreshes_keep_everything_alive_across_stale_nonces() -> None:
    net = allocated()
    net.client.send(b"one", PEER, net.now)
    net.flush()
    start = net.now
    net.run_until(start + 3000)
    methods = [parse(d).method for _, d in net.sent_up if d[0] < 0x40]
    assert methods.count(Method.REFRESH) >= 5  # every 540 s
    assert methods.count(Method.CREATE_PERMISSION) >= 12  # every 240 s
    assert methods.count(Method.CHANNEL_BIND) >= 6  # every 540 s
    codes = [parse(d).get(Attr.ERROR_CODE) for d in net.sent_down if d[0] < 0x40]
    # The nonce went stale several times (600 s lifetime) and the client recovered each time.
    assert [c[0] for c in codes if c is not None].count(438) >= 3
    assert len(net.of(AllocationRefreshed)) >= 5
    assert net.of(AllocationLost) == []
    assert net.client.state == "allocated"
    alloc = net.core.allocations[0]
    assert alloc.expires_at > net.now
    assert alloc.permissions[PEER[0]] > net.now
    net.client.send(b"late", PEER, net.now)
    net.flush()
    assert net.peer_inbox[-1][0] == b"late"


def test_stale_nonce_retry() -> None:
    net = allocated()
    # Jump past the nonce lifetime (but inside the allocation lifetime) and add a peer.
    net.now += 590
    net.core.timeout(net.now)
    net.now += 20  # nonce (600 s) is stale now; the allocation refresh happens in run_until
    net.sent_up.clear()
    net.client.create_permission(PEER, net.now)
    net.flush()
    sent = [parse(d) for _, d in net.sent_up]
    perms = [m for m in sent if m.method == Method.CREATE_PERMISSION]
    assert len(perms) == 2  # first with the stale nonce (438), then the fresh one
    assert perms[0].get(Attr.NONCE) != perms[1].get(Attr.NONCE)
    assert net.of(PermissionCreated) == [PermissionCreated(PEER[0])]


def test_retransmission_schedule_and_timeout() -> None:
    core = make()
    net = Net(TurnClient(SERVER, "u", "p"), core)
    net.drop_up = 100
    net.client.start(net.now)
    net.flush()
    net.run_until(net.now + 60)
    times = [round(t - 1000.0, 3) for t, _ in net.sent_up]
    assert times == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert net.of(AllocationFailed) == [AllocationFailed(0, "timeout")]


def test_retransmission_recovers() -> None:
    net = Net(TurnClient(SERVER, "u", "p"), make())
    net.drop_up = 2
    net.client.start(net.now)
    net.flush()
    net.run_until(net.now + 5)
    assert net.client.state == "allocated"


def test_close_deallocates() -> None:
    net = allocated()
    net.client.close(net.now)
    net.flush()
    last = parse(net.sent_up[-1][1])
    assert last.method == Method.REFRESH and last.get(Attr.LIFETIME) == 0
    assert net.of(TurnClosed) == [TurnClosed()]
    assert net.core.allocations == []
    assert net.core.closed_relays() == ["relay50000"]


def test_allocation_expires_on_server_without_refresh() -> None:
    core = make()
    net = allocated(core)
    net.client = TurnClient(SERVER, "u", "p")  # forget the client: nobody refreshes
    core.timeout(net.now + 599)
    assert len(core.allocations) == 1
    core.timeout(net.now + 600)
    assert core.allocations == []


def raw_request(
    core: TurnServerCore, method: int, attrs: list[tuple[int, object]], now: float, addr=CLIENT
) -> StunMessage:  # type: ignore[no-untyped-def]
    """Send an authenticated request straight to the core and return the response."""
    probe = StunMessage(method, MessageClass.REQUEST)
    core.receive_client(probe.encode(), "udp", addr, now)
    ((challenge, _, _),) = core.to_clients()
    nonce = parse(challenge).get(Attr.NONCE)
    msg = StunMessage(method, MessageClass.REQUEST)
    for t, v in attrs:
        msg.add(t, v)
    msg.add(Attr.USERNAME, "u").add(Attr.REALM, "example.org").add(Attr.NONCE, nonce)
    core.receive_client(msg.encode(long_term_key("u", "example.org", "p")), "udp", addr, now)
    ((data, _, _),) = core.to_clients()
    return parse(data)


def test_server_error_codes() -> None:
    core = make()
    assert raw_request(core, Method.ALLOCATE, [(Attr.REQUESTED_TRANSPORT, 6)], 0).get(
        Attr.ERROR_CODE
    ) == (442, "Unsupported Transport Protocol")
    assert raw_request(core, Method.ALLOCATE, [], 0).get(Attr.ERROR_CODE)[0] == 400  # type: ignore[index]
    resp = raw_request(core, Method.ALLOCATE, [(Attr.REQUESTED_TRANSPORT, 17), (0x0031, b"?")], 0)
    assert resp.get(Attr.ERROR_CODE)[0] == 420  # type: ignore[index]
    assert resp.get(Attr.UNKNOWN_ATTRIBUTES) == (0x0031,)
    assert raw_request(core, Method.REFRESH, [], 0).get(Attr.ERROR_CODE)[0] == 437  # type: ignore[index]
    ok = raw_request(
        core, Method.ALLOCATE, [(Attr.REQUESTED_TRANSPORT, 17), (Attr.LIFETIME, 99999)], 0
    )
    assert ok.message_class == MessageClass.SUCCESS
    assert ok.get(Attr.LIFETIME) == 3600
    again = raw_request(core, Method.ALLOCATE, [(Attr.REQUESTED_TRANSPORT, 17)], 0)
    assert again.get(Attr.ERROR_CODE)[0] == 437  # type: ignore[index]
    bind = raw_request(
        core, Method.CHANNEL_BIND, [(Attr.CHANNEL_NUMBER, 0x3000), (Attr.XOR_PEER_ADDRESS, PEER)], 0
    )
    assert bind.get(Attr.ERROR_CODE)[0] == 400  # type: ignore[index]
    ok = raw_request(
        core, Method.CHANNEL_BIND, [(Attr.CHANNEL_NUMBER, 0x4001), (Attr.XOR_PEER_ADDRESS, PEER)], 0
    )
    assert ok.message_class == MessageClass.SUCCESS
    clash = raw_request(
        core,
        Method.CHANNEL_BIND,
        [(Attr.CHANNEL_NUMBER, 0x4001), (Attr.XOR_PEER_ADDRESS, (PEER[0], 1))],
        0,
    )
    assert clash.get(Attr.ERROR_CODE)[0] == 400  # type: ignore[index]
    v6 = raw_request(
        core, Method.CREATE_PERMISSION, [(Attr.XOR_PEER_ADDRESS, ("2001:db8::1", 0))], 0
    )
    assert v6.get(Attr.ERROR_CODE)[0] == 443  # type: ignore[index]
    # Responses to authenticated requests carry MESSAGE-INTEGRITY.
    assert ok.check_integrity(long_term_key("u", "example.org", "p"))


def test_permission_expires_after_300s() -> None:
    core = make()
    raw_request(core, Method.ALLOCATE, [(Attr.REQUESTED_TRANSPORT, 17)], 0)
    raw_request(core, Method.CREATE_PERMISSION, [(Attr.XOR_PEER_ADDRESS, PEER)], 0)
    relay = core.allocations[0].relay
    core.receive_peer(b"a", relay, PEER, 299)
    assert len(core.to_clients()) == 1
    core.timeout(300)
    core.receive_peer(b"b", relay, PEER, 300)
    assert core.to_clients() == []


def test_binding_request_needs_no_auth() -> None:
    core = make()
    req = StunMessage(Method.BINDING, MessageClass.REQUEST)
    core.receive_client(req.encode(fingerprint=True), "udp", ("203.0.113.5", 4444), 0)
    ((data, conn, addr),) = core.to_clients()
    resp = parse(data)
    assert resp.message_class == MessageClass.SUCCESS
    assert resp.get(Attr.XOR_MAPPED_ADDRESS) == ("203.0.113.5", 4444)
    assert resp.has(Attr.FINGERPRINT)
    assert (conn, addr) == ("udp", ("203.0.113.5", 4444))


def test_rest_credentials_and_total_quota() -> None:
    core = make(users={}, auth_secret="k", max_allocations=2, clock_offset=1_700_000_000.0)
    user, password = rest_credentials("k", "x", 1_700_000_000 + 1000)
    assert user == f"{1_700_000_000 + 1000}:x"
    nets = []
    for i in range(3):
        net = Net(TurnClient(SERVER, user, password), core, addr=("10.0.0.2", 6000 + i))
        net.now = 0.0
        net.client.start(0.0)
        net.flush()
        nets.append(net)
    assert [n.client.state for n in nets] == ["allocated", "allocated", "failed"]
    assert nets[2].of(AllocationFailed)[0].code == 486  # type: ignore[attr-defined]


def test_malformed_client_input_is_dropped() -> None:
    core = make()
    for junk in (
        b"",
        b"\x00",
        b"\x40\x00\x00\x10abc",
        b"\x00\x01\x00\x00" + bytes(16),
        b"\xff" * 30,
    ):
        core.receive_client(junk, "udp", CLIENT, 0)
    assert core.to_clients() == [] and core.to_peers() == []


def test_forged_response_is_ignored() -> None:
    net = allocated()
    net.client.create_permission(PEER, net.now)
    (data,) = net.client.datagrams_to_send()
    req = parse(data)
    forged = StunMessage(Method.CREATE_PERMISSION, MessageClass.SUCCESS, req.transaction_id)
    net.client.receive(forged.encode(integrity_key=b"not the key"), net.now)
    assert net.client.events() == []
    assert not net.client.has_permission(PEER[0])
    net.core.receive_client(data, "udp", CLIENT, net.now)
    net.flush()
    assert net.client.has_permission(PEER[0])


def test_try_alternate_and_server_refusals_surface_as_events() -> None:
    client = TurnClient(SERVER, "u", "p")
    client.start(0.0)
    (data,) = client.datagrams_to_send()
    resp = StunMessage(Method.ALLOCATE, MessageClass.ERROR, parse(data).transaction_id)
    resp.add(Attr.ERROR_CODE, 300).add(Attr.ALTERNATE_SERVER, ("192.0.2.9", 3478))
    client.receive(resp.encode(), 0.0)
    assert client.events() == [AllocationFailed(300, "Try Alternate", ("192.0.2.9", 3478))]
    assert client.state == "failed"
    assert not client.send(b"x", PEER, 0.0)


def test_permission_refused_drops_queue() -> None:
    core = make(allowed_peer=lambda ip: not ip.startswith("198.51.100."))
    net = allocated(core)
    assert net.client.send(b"x", PEER, net.now)
    net.flush()
    failed = [e for e in net.events if type(e).__name__ == "PermissionFailed"]
    assert len(failed) == 1 and failed[0].code == 403  # type: ignore[attr-defined]
    assert net.peer_inbox == []
    assert not net.client.send(b"y", PEER, net.now)


def test_refresh_failure_loses_allocation() -> None:
    net = allocated()
    net.core.close()  # the server forgets the allocation: the next Refresh gets 437
    net.core.closed_relays()
    net.run_until(net.now + 600)
    assert net.of(AllocationLost) == [AllocationLost(437, "Allocation Mismatch")]
    assert net.client.state == "failed"


@settings(max_examples=300)
@given(st.binary(max_size=120), st.sampled_from([b"", b"\x00\x01", b"\x40\x00", b"\x01\x13"]))
def test_cores_never_raise_on_random_input(data: bytes, prefix: bytes) -> None:
    net = allocated()
    junk = prefix + data
    net.core.receive_client(junk, "udp", CLIENT, net.now)
    net.core.receive_client(junk, "tcp-conn", CLIENT, net.now, stream=True)
    net.core.receive_peer(junk, "relay50000", PEER, net.now)
    net.client.receive(junk, net.now)
    net.flush()
    stream = TurnClient(SERVER, "u", "p", transport="tcp")
    stream.start(0.0)
    stream.receive_stream(junk, 0.0)
    stream.events()


class LossyNet(Net):
    """Net that drops messages in both directions with a seeded probability."""

    def __init__(self, client: TurnClient, core: TurnServerCore, seed: int, loss: float) -> None:
        super().__init__(client, core)
        self.rng = random.Random(seed)
        self.loss = loss

    def lost(self) -> bool:
        return self.rng.random() < self.loss

    def flush(self) -> None:
        for _ in range(50):
            moved = False
            for data in self.client.datagrams_to_send():
                moved = True
                self.sent_up.append((self.now, data))
                if not self.lost():
                    self.core.receive_client(data, "udp", self.addr, self.now)
            for data, _conn, _addr in self.core.to_clients():
                moved = True
                if not self.lost():
                    self.app.extend(self.client.receive(data, self.now))
            self.peer_inbox.extend(self.core.to_peers())
            self.events.extend(self.client.events())
            if not moved:
                return


@pytest.mark.parametrize("seed", range(30))
def test_lossy_link_still_allocates_and_relays(seed: int) -> None:
    # 20 % loss each way: retransmissions (and the server's answer cache for retransmitted
    # requests) carry the allocation, permission and channel through.
    net = LossyNet(TurnClient(SERVER, "u", "p"), make(), seed, 0.2)
    net.client.start(net.now)
    net.flush()
    net.run_until(net.now + 40)
    assert net.client.state == "allocated", net.events
    assert len(net.core.allocations) == 1
    for i in range(40):
        net.client.send(b"%d" % i, PEER, net.now)
        net.flush()
        net.run_until(net.now + 1)
    delivered = [d for d, _, _ in net.peer_inbox]
    assert len(delivered) >= 20  # at most the lossy share of the 40 is missing
    assert set(delivered) <= {b"%d" % i for i in range(40)}
    assert net.of(ChannelBound) == [ChannelBound(PEER, 0x4000)]
    assert net.of(AllocationFailed) == []
