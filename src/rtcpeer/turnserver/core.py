"""Sans-I/O STUN/TURN server core (RFC 8489 Binding; RFC 8656 Allocate, Refresh,
CreatePermission, ChannelBind, Send/Data indications, ChannelData; UDP relaying).

The core owns allocations, permissions, channel bindings, nonces and quotas, and nothing else.
The shell feeds it:

* ``receive_client(data, conn, addr, now, stream=False)``: a whole STUN or ChannelData message
  from a client; ``conn`` is the shell's key for the listening socket or TCP connection
  (allocations are keyed by the 5-tuple ``(conn, addr)``), ``stream`` marks TCP/TLS so
  ChannelData going back is padded.
* ``receive_peer(data, relay, peer, now)``: a datagram that arrived on a relay socket.
* ``timeout(now)`` / ``next_timeout()``.

and drains ``to_clients()`` -> ``[(data, conn, addr)]``, ``to_peers()`` ->
``[(data, relay, peer)]`` and ``closed_relays()`` -> relay handles to close. Relay sockets are
made by the injected ``relay_factory(family) -> (relayed_address, handle) | None`` (the shell
binds a UDP socket synchronously); the core never touches them.

Credentials: static long-term users (``users={"name": "password"}``) and/or the TURN REST API
scheme of coturn's ``use-auth-secret``: username ``"<unix expiry>[:<user>]"``, password
``base64(HMAC-SHA1(secret, username))``. Unix time is ``now + clock_offset`` (the shell sets the
offset between its monotonic clock and the wall clock). Nonces are stateless: an expiry and
an HMAC under a per-server random key; an expired nonce gets 438.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
import struct
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from rtcpeer.stun import (
    Attr,
    MessageClass,
    Method,
    ParseError,
    StunMessage,
    long_term_key,
    parse,
)
from rtcpeer.stun.channeldata import CHANNEL_MAX, CHANNEL_MIN, encode_channel_data

__all__ = ["Allocation", "TurnServerCore", "rest_credentials"]

logger = logging.getLogger(__name__)

Address = tuple[str, int]
RelayFactory = Callable[[int], "tuple[Address, Hashable] | None"]

DEFAULT_LIFETIME = 600
MAX_LIFETIME = 3600
PERMISSION_LIFETIME = 300.0
CHANNEL_LIFETIME = 600.0
NONCE_LIFETIME = 600.0


def rest_credentials(secret: str, user: str | None, expiry: int) -> tuple[str, str]:
    """TURN REST API credentials (coturn use-auth-secret): ``(username, password)``."""
    username = f"{expiry}:{user}" if user else str(expiry)
    mac = hmac.digest(secret.encode(), username.encode(), "sha1")
    return username, base64.b64encode(mac).decode()


@dataclass(slots=True)
class Allocation:
    conn: Hashable
    client: Address
    stream: bool
    username: str
    key: bytes
    relay: Hashable
    relayed_address: Address
    mapped_address: Address
    expires_at: float
    permissions: dict[str, float] = field(default_factory=dict)  # peer ip -> expiry
    channels: dict[int, tuple[Address, float]] = field(default_factory=dict)
    peer_channels: dict[Address, int] = field(default_factory=dict)
    last_tid: bytes = b""
    last_response: bytes = b""


def _norm_ip(host: str) -> str:
    return host.split("%", 1)[0].lower()


class TurnServerCore:
    """Sans-I/O STUN/TURN server (see the module docstring)."""

    def __init__(
        self,
        realm: str,
        *,
        users: dict[str, str] | None = None,
        auth_secret: str | None = None,
        relay_factory: RelayFactory | None = None,
        software: str | None = "rtcpeer-turn",
        max_allocations: int = 100,
        max_allocations_per_user: int = 10,
        max_permissions: int = 128,
        default_lifetime: int = DEFAULT_LIFETIME,
        max_lifetime: int = MAX_LIFETIME,
        allowed_peer: Callable[[str], bool] | None = None,
        clock_offset: float = 0.0,
        nonce_key: bytes | None = None,
    ) -> None:
        self.realm = realm
        self.users = dict(users or {})
        self.auth_secret = auth_secret
        self.relay_factory = relay_factory
        self.software = software
        self.max_allocations = max_allocations
        self.max_allocations_per_user = max_allocations_per_user
        self.max_permissions = max_permissions
        self.default_lifetime = default_lifetime
        self.max_lifetime = max_lifetime
        self.allowed_peer = allowed_peer
        self.clock_offset = clock_offset
        self._nonce_key = nonce_key or os.urandom(16)
        self._allocations: dict[tuple[Hashable, Address], Allocation] = {}
        self._by_relay: dict[Hashable, Allocation] = {}
        self._per_user: dict[str, int] = {}
        self._to_clients: list[tuple[bytes, Hashable, Address]] = []
        self._to_peers: list[tuple[bytes, Hashable, Address]] = []
        self._closed_relays: list[Hashable] = []
        self.stats = {"dropped": 0, "relayed_out": 0, "relayed_in": 0}

    # ------------------------------------------------------------------ drains

    def to_clients(self) -> list[tuple[bytes, Hashable, Address]]:
        out = self._to_clients
        self._to_clients = []
        return out

    def to_peers(self) -> list[tuple[bytes, Hashable, Address]]:
        out = self._to_peers
        self._to_peers = []
        return out

    def closed_relays(self) -> list[Hashable]:
        out = self._closed_relays
        self._closed_relays = []
        return out

    @property
    def allocations(self) -> list[Allocation]:
        return list(self._allocations.values())

    # ------------------------------------------------------------------ timers

    def next_timeout(self) -> float | None:
        times: list[float] = []
        for alloc in self._allocations.values():
            times.append(alloc.expires_at)
            times.extend(alloc.permissions.values())
            times.extend(exp for _, exp in alloc.channels.values())
        return min(times) if times else None

    def timeout(self, now: float) -> None:
        for alloc in list(self._allocations.values()):
            if alloc.expires_at <= now:
                self._delete(alloc)
                continue
            for ip in [ip for ip, exp in alloc.permissions.items() if exp <= now]:
                del alloc.permissions[ip]
            for number in [n for n, (_, exp) in alloc.channels.items() if exp <= now]:
                peer, _ = alloc.channels.pop(number)
                alloc.peer_channels.pop(peer, None)

    def close_connection(self, conn: Hashable) -> None:
        """A TCP client connection closed: its allocations go with it (RFC 8656 sec. 3.1)."""
        for alloc in [a for a in self._allocations.values() if a.conn == conn]:
            self._delete(alloc)

    def close(self) -> None:
        for alloc in list(self._allocations.values()):
            self._delete(alloc)

    def _delete(self, alloc: Allocation) -> None:
        self._allocations.pop((alloc.conn, alloc.client), None)
        self._by_relay.pop(alloc.relay, None)
        count = self._per_user.get(alloc.username, 1) - 1
        if count > 0:
            self._per_user[alloc.username] = count
        else:
            self._per_user.pop(alloc.username, None)
        self._closed_relays.append(alloc.relay)

    # ------------------------------------------------------------------ peer side

    def receive_peer(
        self, data: bytes | bytearray | memoryview, relay: Hashable, peer: Address, now: float
    ) -> None:
        alloc = self._by_relay.get(relay)
        if alloc is None:
            return
        exp = alloc.permissions.get(_norm_ip(peer[0]))
        if exp is None or exp <= now:
            self.stats["dropped"] += 1
            return  # no permission: silently dropped (RFC 8656 section 11.3)
        number = alloc.peer_channels.get(peer)
        if number is not None:
            out = encode_channel_data(number, data, alloc.stream)
        else:
            msg = StunMessage(Method.DATA, MessageClass.INDICATION)
            msg.add(Attr.XOR_PEER_ADDRESS, peer)
            msg.add(Attr.DATA, data)
            out = msg.encode()
        self.stats["relayed_in"] += 1
        self._to_clients.append((out, alloc.conn, alloc.client))

    # ------------------------------------------------------------------ client side

    def receive_client(
        self,
        data: bytes | bytearray | memoryview,
        conn: Hashable,
        addr: Address,
        now: float,
        stream: bool = False,
    ) -> None:
        if len(data) < 4:
            return
        first = data[0]
        if 0x40 <= first <= 0x4F:
            self._client_channel_data(data, conn, addr, now)
            return
        if first > 3:
            return
        try:
            msg = parse(data)
        except ParseError:
            self.stats["dropped"] += 1
            return
        cls = msg.message_class
        method = msg.method
        if cls == MessageClass.INDICATION:
            if method == Method.SEND:
                self._send_indication(msg, conn, addr, now)
            return
        if cls != MessageClass.REQUEST:
            return
        if method == Method.BINDING:
            resp = self._response(msg, MessageClass.SUCCESS)
            resp.add(Attr.XOR_MAPPED_ADDRESS, addr)
            self._reply(resp, conn, addr, None, msg)
            return
        unknown = msg.unknown_required()
        if unknown:
            resp = self._error(msg, 420)
            resp.add(Attr.UNKNOWN_ATTRIBUTES, tuple(unknown))
            self._reply(resp, conn, addr, None, msg)
            return
        if method not in (
            Method.ALLOCATE,
            Method.REFRESH,
            Method.CREATE_PERMISSION,
            Method.CHANNEL_BIND,
        ):
            self._reply(self._error(msg, 400, "Unsupported method"), conn, addr, None, msg)
            return
        alloc = self._allocations.get((conn, addr))
        if alloc is not None and msg.transaction_id == alloc.last_tid and alloc.last_response:
            # Retransmitted request: answer again with the same bytes (RFC 8489 6.3.1).
            self._to_clients.append((alloc.last_response, conn, addr))
            return
        auth = self._authenticate(msg, conn, addr, now)
        if auth is None:
            return
        username, key = auth
        if method == Method.ALLOCATE:
            self._allocate(msg, conn, addr, now, stream, username, key, alloc)
            return
        if alloc is None or alloc.username != username:
            self._reply(self._error(msg, 437), conn, addr, key, msg)
            return
        if method == Method.REFRESH:
            self._refresh(msg, alloc, now)
        elif method == Method.CREATE_PERMISSION:
            self._create_permission(msg, alloc, now)
        else:
            self._channel_bind(msg, alloc, now)

    # ------------------------------------------------------------------ auth

    def _make_nonce(self, now: float) -> str:
        expiry = int((now + NONCE_LIFETIME) * 1000) & 0xFFFFFFFFFFFF
        raw = struct.pack("!Q", expiry)[2:]
        mac = hmac.digest(self._nonce_key, raw, "sha1")[:10]
        return (raw + mac).hex()

    def _nonce_state(self, nonce: str, now: float) -> str:
        try:
            raw = bytes.fromhex(nonce)
        except ValueError:
            return "bad"
        if len(raw) != 16:
            return "bad"
        if not hmac.compare_digest(hmac.digest(self._nonce_key, raw[:6], "sha1")[:10], raw[6:]):
            return "bad"
        expiry = int.from_bytes(raw[:6], "big") / 1000
        return "ok" if expiry > now else "stale"

    def _password(self, username: str, now: float) -> str | None:
        password = self.users.get(username)
        if password is not None:
            return password
        if self.auth_secret is None:
            return None
        stamp = username.split(":", 1)[0]
        try:
            expiry = int(stamp)
        except ValueError:
            return None
        if expiry < now + self.clock_offset:
            return None
        mac = hmac.digest(self.auth_secret.encode(), username.encode(), "sha1")
        return base64.b64encode(mac).decode()

    def _challenge(self, msg: StunMessage, code: int, now: float) -> StunMessage:
        resp = self._error(msg, code)
        resp.add(Attr.REALM, self.realm)
        resp.add(Attr.NONCE, self._make_nonce(now))
        return resp

    def _authenticate(
        self, msg: StunMessage, conn: Hashable, addr: Address, now: float
    ) -> tuple[str, bytes] | None:
        """RFC 8489 section 9.2.4; replies itself and returns None on failure."""
        if not msg.has(Attr.MESSAGE_INTEGRITY):
            self._reply(self._challenge(msg, 401, now), conn, addr, None, msg)
            return None
        username = msg.get(Attr.USERNAME)
        realm = msg.get(Attr.REALM)
        nonce = msg.get(Attr.NONCE)
        if username is None or realm is None or nonce is None:
            self._reply(self._error(msg, 400), conn, addr, None, msg)
            return None
        state = self._nonce_state(nonce, now)
        if state != "ok":
            self._reply(self._challenge(msg, 438, now), conn, addr, None, msg)
            return None
        password = self._password(username, now) if realm == self.realm else None
        if password is None:
            self._reply(self._challenge(msg, 401, now), conn, addr, None, msg)
            return None
        key = long_term_key(username, self.realm, password)
        if not msg.check_integrity(key):
            self._reply(self._challenge(msg, 401, now), conn, addr, None, msg)
            return None
        return username, key

    # ------------------------------------------------------------------ methods

    def _allocate(
        self,
        msg: StunMessage,
        conn: Hashable,
        addr: Address,
        now: float,
        stream: bool,
        username: str,
        key: bytes,
        existing: Allocation | None,
    ) -> None:
        if existing is not None:
            self._reply(self._error(msg, 437), conn, addr, key, msg)
            return
        transport = msg.get(Attr.REQUESTED_TRANSPORT)
        if transport is None:
            self._reply(self._error(msg, 400, "REQUESTED-TRANSPORT missing"), conn, addr, key, msg)
            return
        if transport != 17:
            self._reply(self._error(msg, 442), conn, addr, key, msg)
            return
        if msg.has(Attr.RESERVATION_TOKEN) or msg.get(Attr.EVEN_PORT):
            self._reply(self._error(msg, 508), conn, addr, key, msg)
            return
        family = msg.get(Attr.REQUESTED_ADDRESS_FAMILY) or 1
        if family not in (1, 2):
            self._reply(self._error(msg, 440), conn, addr, key, msg)
            return
        if (
            len(self._allocations) >= self.max_allocations
            or self._per_user.get(username, 0) >= self.max_allocations_per_user
        ):
            self._reply(self._error(msg, 486), conn, addr, key, msg)
            return
        made = self.relay_factory(family) if self.relay_factory is not None else None
        if made is None:
            code = 440 if family == 2 else 508
            self._reply(self._error(msg, code), conn, addr, key, msg)
            return
        relayed, relay = made
        lifetime = self._lifetime(msg)
        alloc = Allocation(
            conn=conn,
            client=addr,
            stream=stream,
            username=username,
            key=key,
            relay=relay,
            relayed_address=relayed,
            mapped_address=addr,
            expires_at=now + lifetime,
        )
        self._allocations[(conn, addr)] = alloc
        self._by_relay[relay] = alloc
        self._per_user[username] = self._per_user.get(username, 0) + 1
        resp = self._response(msg, MessageClass.SUCCESS)
        resp.add(Attr.XOR_RELAYED_ADDRESS, relayed)
        resp.add(Attr.LIFETIME, lifetime)
        resp.add(Attr.XOR_MAPPED_ADDRESS, addr)
        self._reply(resp, conn, addr, key, msg, alloc)

    def _lifetime(self, msg: StunMessage) -> int:
        requested = msg.get(Attr.LIFETIME)
        if requested is None:
            return self.default_lifetime
        return max(self.default_lifetime, min(requested, self.max_lifetime))

    def _refresh(self, msg: StunMessage, alloc: Allocation, now: float) -> None:
        requested = msg.get(Attr.LIFETIME)
        resp = self._response(msg, MessageClass.SUCCESS)
        if requested == 0:
            resp.add(Attr.LIFETIME, 0)
            self._reply(resp, alloc.conn, alloc.client, alloc.key, msg)
            self._delete(alloc)
            return
        lifetime = self._lifetime(msg)
        alloc.expires_at = now + lifetime
        resp.add(Attr.LIFETIME, lifetime)
        self._reply(resp, alloc.conn, alloc.client, alloc.key, msg, alloc)

    def _peer_ok(self, peer: Address, alloc: Allocation) -> bool:
        relay_v6 = ":" in alloc.relayed_address[0]
        return (":" in peer[0]) == relay_v6

    def _room_for(self, alloc: Allocation, ips: set[str]) -> bool:
        # Refreshing an existing permission is always allowed; only new peer IPs count
        # (RFC 8656 section 9: 508 Insufficient Capacity when the server cannot install more).
        new = sum(1 for ip in ips if ip not in alloc.permissions)
        return len(alloc.permissions) + new <= self.max_permissions

    def _create_permission(self, msg: StunMessage, alloc: Allocation, now: float) -> None:
        peers: list[Address] = msg.get_all(Attr.XOR_PEER_ADDRESS)
        if not peers:
            self._reply(
                self._error(msg, 400, "XOR-PEER-ADDRESS missing"),
                alloc.conn,
                alloc.client,
                alloc.key,
                msg,
            )
            return
        for peer in peers:
            if not self._peer_ok(peer, alloc):
                self._reply(self._error(msg, 443), alloc.conn, alloc.client, alloc.key, msg)
                return
            if self.allowed_peer is not None and not self.allowed_peer(peer[0]):
                self._reply(self._error(msg, 403), alloc.conn, alloc.client, alloc.key, msg)
                return
        ips = {_norm_ip(peer[0]) for peer in peers}
        if not self._room_for(alloc, ips):
            self._reply(self._error(msg, 508), alloc.conn, alloc.client, alloc.key, msg)
            return
        for ip in ips:
            alloc.permissions[ip] = now + PERMISSION_LIFETIME
        self._reply(
            self._response(msg, MessageClass.SUCCESS),
            alloc.conn,
            alloc.client,
            alloc.key,
            msg,
            alloc,
        )

    def _channel_bind(self, msg: StunMessage, alloc: Allocation, now: float) -> None:
        number = msg.get(Attr.CHANNEL_NUMBER)
        peer = msg.get(Attr.XOR_PEER_ADDRESS)
        bad = number is None or peer is None or not CHANNEL_MIN <= number <= CHANNEL_MAX
        if not bad:
            assert number is not None and peer is not None
            bound = alloc.channels.get(number)
            if bound is not None and bound[0] != peer:
                bad = True
            other = alloc.peer_channels.get(peer)
            if other is not None and other != number:
                bad = True
        if bad or peer is None or number is None:
            self._reply(self._error(msg, 400), alloc.conn, alloc.client, alloc.key, msg)
            return
        if not self._peer_ok(peer, alloc):
            self._reply(self._error(msg, 443), alloc.conn, alloc.client, alloc.key, msg)
            return
        if self.allowed_peer is not None and not self.allowed_peer(peer[0]):
            self._reply(self._error(msg, 403), alloc.conn, alloc.client, alloc.key, msg)
            return
        if not self._room_for(alloc, {_norm_ip(peer[0])}):
            self._reply(self._error(msg, 508), alloc.conn, alloc.client, alloc.key, msg)
            return
        alloc.channels[number] = (peer, now + CHANNEL_LIFETIME)
        alloc.peer_channels[peer] = number
        alloc.permissions[_norm_ip(peer[0])] = now + PERMISSION_LIFETIME
        self._reply(
            self._response(msg, MessageClass.SUCCESS),
            alloc.conn,
            alloc.client,
            alloc.key,
            msg,
            alloc,
        )

    def _send_indication(self, msg: StunMessage, conn: Hashable, addr: Address, now: float) -> None:
        alloc = self._allocations.get((conn, addr))
        if alloc is None:
            return
        peer = msg.get(Attr.XOR_PEER_ADDRESS)
        data = msg.get(Attr.DATA)
        if peer is None or data is None:
            return
        exp = alloc.permissions.get(_norm_ip(peer[0]))
        if exp is None or exp <= now:
            self.stats["dropped"] += 1
            return
        self.stats["relayed_out"] += 1
        self._to_peers.append((data, alloc.relay, peer))

    def _client_channel_data(
        self, data: bytes | bytearray | memoryview, conn: Hashable, addr: Address, now: float
    ) -> None:
        alloc = self._allocations.get((conn, addr))
        if alloc is None:
            return
        number = (data[0] << 8) | data[1]
        length = (data[2] << 8) | data[3]
        if 4 + length > len(data):
            return
        bound = alloc.channels.get(number)
        if bound is None:
            return
        peer, exp = bound
        if exp <= now:
            return
        pexp = alloc.permissions.get(_norm_ip(peer[0]))
        if pexp is None or pexp <= now:
            return
        self.stats["relayed_out"] += 1
        self._to_peers.append((bytes(data[4 : 4 + length]), alloc.relay, peer))

    # ------------------------------------------------------------------ replies

    def _response(self, msg: StunMessage, cls: MessageClass) -> StunMessage:
        resp = StunMessage(msg.method, cls, msg.transaction_id)
        return resp

    def _error(self, msg: StunMessage, code: int, reason: str | None = None) -> StunMessage:
        resp = self._response(msg, MessageClass.ERROR)
        resp.add(Attr.ERROR_CODE, code if reason is None else (code, reason))
        return resp

    def _reply(
        self,
        resp: StunMessage,
        conn: Hashable,
        addr: Address,
        key: bytes | None,
        request: StunMessage,
        alloc: Allocation | None = None,
    ) -> None:
        if self.software:
            resp.add(Attr.SOFTWARE, self.software)
        data = resp.encode(integrity_key=key, fingerprint=request.has(Attr.FINGERPRINT))
        if alloc is not None:
            alloc.last_tid = request.transaction_id
            alloc.last_response = data
        self._to_clients.append((data, conn, addr))

    def describe(self) -> dict[str, Any]:
        """Counters for logs and the CLI."""
        return {
            "allocations": len(self._allocations),
            "users": dict(self._per_user),
            **self.stats,
        }
