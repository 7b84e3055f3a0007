"""Sans-I/O TURN client (RFC 8656 sections 7-12; RFC 8489 sections 6.2, 9.2 for transactions
and long-term credentials).

One :class:`TurnClient` owns one allocation on one TURN server over one transport
("udp", or "tcp"/"tls" where the caller frames the stream). It opens no sockets and reads no
clock: the caller passes ``now`` (monotonic seconds) and moves bytes::

    client = TurnClient(("198.51.100.1", 3478), "user", "pass", transport="udp")
    client.start(now)                       # Allocate (401 -> realm/nonce -> authenticated)
    for data in client.datagrams_to_send(): sock.sendto(data, client.server)
    # a datagram from the server (UDP), or a stream chunk (TCP/TLS):
    got = client.receive(data, now)         # -> list[(peer, payload)] of relayed app data
    got = client.receive_stream(chunk, now)
    client.timeout(now); client.next_timeout()
    client.events()                         # AllocationSucceeded / AllocationFailed / ...

Outgoing application data: ``send(data, peer, now) -> bool``. The first packet to a peer
IP installs a permission (CreatePermission) and is queued until it is granted; later packets go
out in Send indications, and after the first one a ChannelBind is started so the rest use
4-byte ChannelData headers (``auto_channel=False`` keeps Send indications). Permissions are
refreshed every 4 minutes and channel bindings every 9 minutes while the allocation lives
(RFC 8656 sections 9 and 12); the allocation is refreshed a minute before it expires.
``create_permission(peer_address, now)`` installs a permission up front (ICE does this for
every remote candidate so the peer's checks reach us).

``close(now)`` sends a Refresh with LIFETIME 0 (deallocation); the state becomes "closed" when
it is answered or times out. Errors never raise: they come out of ``events()``
(:class:`AllocationFailed` carries the STUN error code, e.g. 401 for wrong credentials, or
0 for a transaction timeout, so the peer connection can fire ``icecandidateerror``).

Hot path: ``receive`` of ChannelData is a dict lookup and one slice; ``send`` on a bound
channel builds one bytes object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from rtcpeer.stun.attributes import Attr, PasswordAlgorithm
from rtcpeer.stun.channeldata import (
    CHANNEL_MAX,
    CHANNEL_MIN,
    StreamFramer,
    encode_channel_data,
    parse_channel_data,
)
from rtcpeer.stun.errors import ParseError
from rtcpeer.stun.message import (
    MessageClass,
    Method,
    StunMessage,
    long_term_key,
    new_transaction_id,
    parse,
)

__all__ = [
    "AllocationFailed",
    "AllocationLost",
    "AllocationRefreshed",
    "AllocationSucceeded",
    "ChannelBindFailed",
    "ChannelBound",
    "PermissionCreated",
    "PermissionFailed",
    "TurnClient",
    "TurnClosed",
    "TurnEvent",
]

logger = logging.getLogger(__name__)

Address = tuple[str, int]

PERMISSION_REFRESH = 240.0  # permissions last 300 s (RFC 8656 section 9)
CHANNEL_REFRESH = 540.0  # channel bindings last 600 s (RFC 8656 section 12)
NONCE_COOKIE = "obMatJos2"  # RFC 8489 section 9.2: the server supports the security features
RETRY_AFTER = 5.0  # a failed permission/channel refresh is retried this much later
MAX_QUEUED = 64  # packets held per peer while its permission is being installed


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class AllocationSucceeded:
    relayed_address: Address
    mapped_address: Address | None
    lifetime: int


@dataclass(frozen=True, slots=True)
class AllocationFailed:
    """The allocation could not be made: ``code`` is the STUN error code (0 on timeout)."""

    code: int
    reason: str
    alternate_server: Address | None = None


@dataclass(frozen=True, slots=True)
class AllocationRefreshed:
    lifetime: int


@dataclass(frozen=True, slots=True)
class AllocationLost:
    """An established allocation failed to refresh (or the server refused it)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class PermissionCreated:
    peer_ip: str


@dataclass(frozen=True, slots=True)
class PermissionFailed:
    peer_ip: str
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChannelBound:
    peer: Address
    channel: int


@dataclass(frozen=True, slots=True)
class ChannelBindFailed:
    peer: Address
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class TurnClosed:
    pass


TurnEvent = (
    AllocationSucceeded
    | AllocationFailed
    | AllocationRefreshed
    | AllocationLost
    | PermissionCreated
    | PermissionFailed
    | ChannelBound
    | ChannelBindFailed
    | TurnClosed
)

State = Literal["new", "allocating", "allocated", "failed", "closing", "closed"]


# --------------------------------------------------------------------------- internals


@dataclass(slots=True)
class _Tx:
    kind: str  # "allocate", "refresh", "permission", "channel", "close"
    method: int
    attrs: list[tuple[int, object]]
    tid: bytes
    data: bytes
    authenticated: bool
    sent_at: float
    next_at: float
    rto: float
    sends: int = 1
    retries: int = 0  # 401/438 retries
    peer_ips: tuple[str, ...] = ()
    peer: Address | None = None
    channel: int = 0


@dataclass(slots=True)
class _Permission:
    state: str = "pending"  # "pending", "ok", "failed"
    refresh_at: float = 0.0
    queue: list[tuple[bytes, Address]] = field(default_factory=list)


@dataclass(slots=True)
class _Channel:
    number: int
    peer: Address
    bound: bool = False
    refresh_at: float = 0.0


def _norm_ip(host: str) -> str:
    return host.split("%", 1)[0].lower()


class TurnClient:
    """Sans-I/O TURN client for one allocation (see the module docstring)."""

    def __init__(
        self,
        server: Address,
        username: str,
        password: str,
        *,
        transport: Literal["udp", "tcp", "tls"] = "udp",
        lifetime: int = 600,
        software: str | None = None,
        rto: float = 0.5,
        max_sends: int = 7,
        stream_timeout: float = 39.5,
        auto_channel: bool = True,
        dont_fragment: bool = False,
        requested_family: int | None = None,
    ) -> None:
        self.server = server
        self.username = username
        self.password = password
        self.transport = transport
        self.requested_lifetime = lifetime
        self.software = software
        self.rto = rto
        self.max_sends = max_sends
        self.stream_timeout = stream_timeout
        self.auto_channel = auto_channel
        self.dont_fragment = dont_fragment
        self.requested_family = requested_family
        self.state: State = "new"
        self.relayed_address: Address | None = None
        self.mapped_address: Address | None = None
        self.lifetime = 0
        self.expires_at = 0.0
        self.realm: str | None = None
        self.nonce: str | None = None
        self._password_algorithms: object = None
        self._algorithm: int = PasswordAlgorithm.MD5
        self._key: bytes | None = None
        self._stream = transport != "udp"
        self._framer = StreamFramer() if self._stream else None
        self._out: list[bytes] = []
        self._events: list[TurnEvent] = []
        self._tx: dict[bytes, _Tx] = {}
        self._refresh_at: float | None = None
        self._permissions: dict[str, _Permission] = {}
        self._channels_by_peer: dict[Address, _Channel] = {}
        self._channels_by_number: dict[int, _Channel] = {}
        self._next_channel = CHANNEL_MIN

    # ------------------------------------------------------------------ public API

    @property
    def channels(self) -> dict[Address, int]:
        """Bound channels: peer -> channel number."""
        return {p: c.number for p, c in self._channels_by_peer.items() if c.bound}

    def has_permission(self, peer_ip: str) -> bool:
        perm = self._permissions.get(_norm_ip(peer_ip))
        return perm is not None and perm.state == "ok"

    def start(self, now: float) -> None:
        """Send the first (unauthenticated) Allocate request."""
        if self.state != "new":
            return
        self.state = "allocating"
        self._request("allocate", Method.ALLOCATE, self._allocate_attrs(), now)

    def datagrams_to_send(self) -> list[bytes]:
        """Messages for the server (whole datagrams; for streams, write them in order)."""
        out = self._out
        self._out = []
        return out

    def events(self) -> list[TurnEvent]:
        ev = self._events
        self._events = []
        return ev

    def next_timeout(self) -> float | None:
        times = [tx.next_at for tx in self._tx.values()]
        if self.state == "allocated":
            if self._refresh_at is not None:
                times.append(self._refresh_at)
            for perm in self._permissions.values():
                if perm.state == "ok":
                    times.append(perm.refresh_at)
            for ch in self._channels_by_peer.values():
                if ch.bound:
                    times.append(ch.refresh_at)
        return min(times) if times else None

    def timeout(self, now: float) -> None:
        for tx in list(self._tx.values()):
            if tx.next_at <= now:
                self._retransmit(tx, now)
        if self.state != "allocated":
            return
        if self._refresh_at is not None and self._refresh_at <= now:
            self._refresh_at = None
            self._request(
                "refresh", Method.REFRESH, [(Attr.LIFETIME, self.requested_lifetime)], now
            )
        due = [ip for ip, p in self._permissions.items() if p.state == "ok" and p.refresh_at <= now]
        if due:
            for ip in due:
                self._permissions[ip].refresh_at = now + PERMISSION_REFRESH
            self._send_permission(due, now)
        for ch in self._channels_by_peer.values():
            if ch.bound and ch.refresh_at <= now:
                ch.refresh_at = now + CHANNEL_REFRESH
                self._send_channel_bind(ch, now)

    def create_permission(self, peer: Address | str, now: float) -> None:
        """Install (and keep refreshing) a permission for the peer's IP address."""
        ip = _norm_ip(peer if isinstance(peer, str) else peer[0])
        known = self._permissions.get(ip)
        if known is not None and known.state != "failed":
            return
        self._permissions[ip] = _Permission()  # new, or a retry after a refusal
        if self.state == "allocated":
            self._send_permission([ip], now)

    def send(self, data: bytes | bytearray | memoryview, peer: Address, now: float) -> bool:
        """Relay application data to ``peer``; False when there is no allocation."""
        ch = self._channels_by_peer.get(peer)
        if ch is not None and ch.bound:
            self._out.append(encode_channel_data(ch.number, data, self._stream))
            return True
        if self.state != "allocated":
            return False
        ip = _norm_ip(peer[0])
        perm = self._permissions.get(ip)
        if perm is None:
            perm = self._permissions[ip] = _Permission()
            self._send_permission([ip], now)
        if perm.state == "pending":
            if len(perm.queue) < MAX_QUEUED:
                perm.queue.append((bytes(data), peer))
            return True
        if perm.state == "failed":
            return False
        self._send_indication(data, peer)
        if self.auto_channel and ch is None:
            self.bind_channel(peer, now)
        return True

    def bind_channel(self, peer: Address, now: float) -> int | None:
        """Start a ChannelBind for ``peer``; returns the channel number (None if exhausted)."""
        ch = self._channels_by_peer.get(peer)
        if ch is not None:
            return ch.number
        number = self._free_channel()
        if number is None:
            return None
        ch = _Channel(number, peer)
        self._channels_by_peer[peer] = ch
        self._channels_by_number[number] = ch
        if self.state == "allocated":
            self._send_channel_bind(ch, now)
        return number

    def refresh(self, now: float) -> None:
        """Send a Refresh for the allocation now (e.g. to check it is still alive after an ICE
        restart); the answer arrives as usual, a lost allocation as ``AllocationLost``."""
        if self.state != "allocated" or self.refresh_pending:
            return
        self._refresh_at = now
        self.timeout(now)

    @property
    def refresh_pending(self) -> bool:
        """True while a Refresh request is waiting for its answer."""
        return any(tx.kind == "refresh" for tx in self._tx.values())

    def close(self, now: float) -> None:
        """Deallocate (Refresh with LIFETIME 0)."""
        if self.state in ("closing", "closed"):
            return
        was_allocated = self.state == "allocated"
        self._tx.clear()
        for perm in self._permissions.values():
            perm.queue.clear()
        if was_allocated:
            self.state = "closing"
            self._request("close", Method.REFRESH, [(Attr.LIFETIME, 0)], now)
        else:
            self._closed()

    def receive_stream(
        self, data: bytes | bytearray | memoryview, now: float
    ) -> list[tuple[Address, bytes]]:
        """Feed bytes from a TCP/TLS connection to the server."""
        assert self._framer is not None, "receive_stream is for stream transports"
        try:
            messages = self._framer.feed(data)
        except ParseError:
            logger.debug("unframeable stream from TURN server %s", self.server)
            self._fail_transport("stream framing error")
            return []
        out: list[tuple[Address, bytes]] = []
        for msg in messages:
            out.extend(self.receive(msg, now))
        return out

    def receive(
        self, data: bytes | bytearray | memoryview, now: float
    ) -> list[tuple[Address, bytes]]:
        """One message from the server. Returns relayed application data as
        ``[(peer, payload)]`` (at most one item per message)."""
        if not data:
            return []
        first = data[0]
        if 0x40 <= first <= 0x4F:
            try:
                number, view = parse_channel_data(data)
            except ParseError:
                return []
            bound = self._channels_by_number.get(number)
            if bound is None:
                return []
            return [(bound.peer, bytes(view))]
        if first > 3:
            return []
        try:
            msg = parse(data)
        except ParseError:
            logger.debug("dropping malformed STUN from TURN server %s", self.server)
            return []
        if msg.message_class == MessageClass.INDICATION:
            if msg.method == Method.DATA:
                peer = msg.get(Attr.XOR_PEER_ADDRESS)
                payload = msg.get(Attr.DATA)
                if peer is not None and payload is not None:
                    return [(peer, payload)]
            return []
        if msg.message_class != MessageClass.REQUEST:
            tx = self._tx.get(msg.transaction_id)
            if tx is not None:
                self._on_response(tx, msg, now)
        return []

    # ------------------------------------------------------------------ transactions

    def _allocate_attrs(self) -> list[tuple[int, object]]:
        attrs: list[tuple[int, object]] = [(Attr.REQUESTED_TRANSPORT, 17)]
        if self.requested_lifetime != 600:
            attrs.append((Attr.LIFETIME, self.requested_lifetime))
        if self.requested_family is not None:
            attrs.append((Attr.REQUESTED_ADDRESS_FAMILY, self.requested_family))
        if self.dont_fragment:
            attrs.append((Attr.DONT_FRAGMENT, True))
        return attrs

    def _encode(
        self, method: int, attrs: list[tuple[int, object]], tid: bytes
    ) -> tuple[bytes, bool]:
        msg = StunMessage(method, MessageClass.REQUEST, tid)
        for t, v in attrs:
            msg.add(t, v)
        if self.software:
            msg.add(Attr.SOFTWARE, self.software)
        if self._key is None or self.realm is None or self.nonce is None:
            return msg.encode(fingerprint=True), False
        msg.add(Attr.USERNAME, self.username)
        msg.add(Attr.REALM, self.realm)
        msg.add(Attr.NONCE, self.nonce)
        if self._password_algorithms is not None:
            msg.add(Attr.PASSWORD_ALGORITHMS, self._password_algorithms)
            msg.add(Attr.PASSWORD_ALGORITHM, (self._algorithm, b""))
        return msg.encode(integrity_key=self._key, fingerprint=True), True

    def _request(
        self,
        kind: str,
        method: int,
        attrs: list[tuple[int, object]],
        now: float,
        *,
        peer_ips: tuple[str, ...] = (),
        peer: Address | None = None,
        channel: int = 0,
        retries: int = 0,
    ) -> _Tx:
        tid = new_transaction_id()
        data, authenticated = self._encode(method, attrs, tid)
        wait = self.stream_timeout if self._stream else self.rto
        tx = _Tx(
            kind=kind,
            method=method,
            attrs=attrs,
            tid=tid,
            data=data,
            authenticated=authenticated,
            sent_at=now,
            next_at=now + wait,
            rto=self.rto,
            retries=retries,
            peer_ips=peer_ips,
            peer=peer,
            channel=channel,
        )
        self._tx[tid] = tx
        self._out.append(data)
        return tx

    def _retransmit(self, tx: _Tx, now: float) -> None:
        if self._stream or tx.sends >= self.max_sends:
            del self._tx[tx.tid]
            self._on_failure(tx, 0, "timeout", None, now)
            return
        tx.sends += 1
        tx.rto *= 2
        # RFC 8489 section 6.2.1: after the last send, wait 16 * RTO (Rm) for an answer.
        tx.next_at = now + (self.rto * 16 if tx.sends >= self.max_sends else tx.rto)
        self._out.append(tx.data)

    def _resend_authenticated(self, tx: _Tx, now: float) -> None:
        self._tx.pop(tx.tid, None)
        self._request(
            tx.kind,
            tx.method,
            tx.attrs,
            now,
            peer_ips=tx.peer_ips,
            peer=tx.peer,
            channel=tx.channel,
            retries=tx.retries + 1,
        )

    def _learn_credentials(self, msg: StunMessage) -> bool:
        realm = msg.get(Attr.REALM)
        nonce = msg.get(Attr.NONCE)
        if nonce is None:
            return False
        if realm is not None:
            self.realm = realm
        if self.realm is None:
            return False
        self.nonce = nonce
        algorithms = msg.get(Attr.PASSWORD_ALGORITHMS)
        if nonce.startswith(NONCE_COOKIE) and algorithms:
            offered = [a for a, _ in algorithms]
            self._password_algorithms = algorithms
            self._algorithm = (
                PasswordAlgorithm.SHA256
                if PasswordAlgorithm.SHA256 in offered
                else PasswordAlgorithm.MD5
            )
        else:
            self._password_algorithms = None
            self._algorithm = PasswordAlgorithm.MD5
        self._key = long_term_key(self.username, self.realm, self.password, self._algorithm)
        return True

    def _on_response(self, tx: _Tx, msg: StunMessage, now: float) -> None:
        if tx.authenticated and msg.has(Attr.MESSAGE_INTEGRITY) and self._key is not None:
            if not msg.check_integrity(self._key):
                logger.debug("TURN response with bad integrity ignored")
                return  # forged; the transaction stays open
        del self._tx[tx.tid]
        if msg.message_class == MessageClass.SUCCESS:
            self._on_success(tx, msg, now)
            return
        error = msg.get(Attr.ERROR_CODE)
        code, reason = error if error is not None else (0, "error response without ERROR-CODE")
        if code == 401 and not tx.authenticated and tx.retries < 2:
            if self._learn_credentials(msg):
                self._resend_authenticated(tx, now)
                return
        if code == 438 and tx.retries < 3:
            if self._learn_credentials(msg):
                self._resend_authenticated(tx, now)
                return
        alternate = msg.get(Attr.ALTERNATE_SERVER) if code == 300 else None
        self._on_failure(tx, code, reason, alternate, now)

    def _on_success(self, tx: _Tx, msg: StunMessage, now: float) -> None:
        kind = tx.kind
        if kind == "allocate":
            relayed = msg.get(Attr.XOR_RELAYED_ADDRESS)
            if relayed is None:
                self._fail_allocation(0, "Allocate success without XOR-RELAYED-ADDRESS")
                return
            self.relayed_address = relayed
            self.mapped_address = msg.get(Attr.XOR_MAPPED_ADDRESS)
            self._set_lifetime(msg.get(Attr.LIFETIME) or 600, now)
            self.state = "allocated"
            self._events.append(AllocationSucceeded(relayed, self.mapped_address, self.lifetime))
            pending = [ip for ip, p in self._permissions.items() if p.state == "pending"]
            if pending:
                self._send_permission(pending, now)
            for ch in self._channels_by_peer.values():
                self._send_channel_bind(ch, now)
        elif kind == "refresh":
            self._set_lifetime(msg.get(Attr.LIFETIME) or self.requested_lifetime, now)
            self._events.append(AllocationRefreshed(self.lifetime))
        elif kind == "close":
            self._closed()
        elif kind == "permission":
            for ip in tx.peer_ips:
                perm = self._permissions.get(ip)
                if perm is None:
                    continue
                first = perm.state != "ok"
                perm.state = "ok"
                perm.refresh_at = now + PERMISSION_REFRESH
                if first:
                    self._events.append(PermissionCreated(ip))
                queued, perm.queue = perm.queue, []
                for data, peer in queued:
                    self.send(data, peer, now)
        elif kind == "channel" and tx.peer is not None:
            chan = self._channels_by_peer.get(tx.peer)
            if chan is None or chan.number != tx.channel:
                return
            first = not chan.bound
            chan.bound = True
            chan.refresh_at = now + CHANNEL_REFRESH
            # A channel binding also installs a permission for the peer's IP.
            ip = _norm_ip(tx.peer[0])
            perm = self._permissions.get(ip)
            if perm is None:
                perm = self._permissions[ip] = _Permission()
            if perm.state != "ok":
                perm.state = "ok"
                perm.refresh_at = now + PERMISSION_REFRESH
            if first:
                self._events.append(ChannelBound(tx.peer, chan.number))

    def _on_failure(
        self, tx: _Tx, code: int, reason: str, alternate: Address | None, now: float
    ) -> None:
        kind = tx.kind
        if kind == "allocate":
            self._fail_allocation(code, reason, alternate)
        elif kind == "refresh":
            if code == 437 or self.expires_at <= now or code == 0:
                self.state = "failed"
                self._events.append(AllocationLost(code, reason))
            else:
                self._refresh_at = now + min(30.0, max(1.0, (self.expires_at - now) / 2))
        elif kind == "close":
            self._closed()
        elif kind == "permission":
            for ip in tx.peer_ips:
                perm = self._permissions.get(ip)
                if perm is None:
                    continue
                if perm.state == "ok":
                    # A refresh failed: try again soon, the server keeps it 300 s from the
                    # last success.
                    perm.refresh_at = now + RETRY_AFTER
                else:
                    perm.state = "failed"
                    perm.queue.clear()
                    self._events.append(PermissionFailed(ip, code, reason))
        elif kind == "channel" and tx.peer is not None:
            failed = self._channels_by_peer.get(tx.peer)
            if failed is not None and failed.number == tx.channel:
                if failed.bound:
                    failed.refresh_at = now + RETRY_AFTER
                else:
                    del self._channels_by_peer[tx.peer]
                    self._channels_by_number.pop(failed.number, None)
                    self._events.append(ChannelBindFailed(tx.peer, code, reason))

    # ------------------------------------------------------------------ helpers

    def _set_lifetime(self, lifetime: int, now: float) -> None:
        self.lifetime = lifetime
        self.expires_at = now + lifetime
        # A minute early (RFC 8656 section 8), or half-way for very short lifetimes.
        self._refresh_at = now + (lifetime - 60 if lifetime > 120 else lifetime / 2)

    def _fail_allocation(self, code: int, reason: str, alternate: Address | None = None) -> None:
        self.state = "failed"
        self._tx.clear()
        self._events.append(AllocationFailed(code, reason, alternate))

    def _fail_transport(self, reason: str) -> None:
        if self.state == "allocating":
            self._fail_allocation(0, reason)
        elif self.state == "allocated":
            self.state = "failed"
            self._tx.clear()
            self._events.append(AllocationLost(0, reason))

    def _closed(self) -> None:
        self.state = "closed"
        self._tx.clear()
        self._events.append(TurnClosed())

    def _free_channel(self) -> int | None:
        for _ in range(CHANNEL_MAX - CHANNEL_MIN + 1):
            number = self._next_channel
            self._next_channel = number + 1 if number < CHANNEL_MAX else CHANNEL_MIN
            if number not in self._channels_by_number:
                return number
        return None

    def _send_permission(self, ips: list[str], now: float) -> None:
        # One CreatePermission can carry several XOR-PEER-ADDRESS attributes (section 10).
        attrs: list[tuple[int, object]] = [(Attr.XOR_PEER_ADDRESS, (ip, 0)) for ip in ips]
        self._request("permission", Method.CREATE_PERMISSION, attrs, now, peer_ips=tuple(ips))

    def _send_channel_bind(self, ch: _Channel, now: float) -> None:
        attrs: list[tuple[int, object]] = [
            (Attr.CHANNEL_NUMBER, ch.number),
            (Attr.XOR_PEER_ADDRESS, ch.peer),
        ]
        self._request("channel", Method.CHANNEL_BIND, attrs, now, peer=ch.peer, channel=ch.number)

    def _send_indication(self, data: bytes | bytearray | memoryview, peer: Address) -> None:
        msg = StunMessage(Method.SEND, MessageClass.INDICATION)
        msg.add(Attr.XOR_PEER_ADDRESS, peer)
        if self.dont_fragment:
            msg.add(Attr.DONT_FRAGMENT, True)
        msg.add(Attr.DATA, data)
        self._out.append(msg.encode())
