"""The asyncio ICE transport: sockets, gathering, STUN/TURN servers, mDNS and the agent's timer.

This is the thin shell around :class:`rtcpeer.ice.agent.IceAgent` (see docs/internals.md):
- host candidates on every usable interface address, IPv4 and IPv6 (RFC 8445 section
  5.1.1.1), one UDP socket each, reported one at a time as found, then ``None``; with
  ``tcp=True`` also passive and active ICE-TCP candidates (RFC 6544, :mod:`.ice_tcp`);
- server-reflexive candidates from STUN servers (RFC 8445 section 5.1.1.2, RFC 8489 Binding
  requests) and relayed candidates from TURN servers over UDP, TCP or TLS (RFC 8656,
  :mod:`.ice_relay`), every server at once and each bounded by a timeout so a dead server
  delays nothing else; failures are reported like the W3C icecandidateerror event;
- mDNS ``.local`` remote candidates resolved before use and dropped when unresolvable, and
  optionally our host addresses published under random ``.local`` names (RFC 8828);
- an ICE restart's gathering re-announces host candidates at once and asks every STUN/TURN
  server again from the existing sockets: a NAT that rebound yields a new srflx candidate
  and a TURN allocation the server lost (437) is made again (issue 9);
- iceTransportPolicy "relay" (W3C webrtc-pc 4.2.1) keeps only relayed local candidates;
- one timer per transport, set from the agent's and the TURN clients' ``next_timeout()``;
- the hot path: a datagram whose first byte is above 3 (not STUN, RFC 7983) goes from the
  socket's read callback straight to ``on_data`` (the agent only checks its source);
  ``send`` writes with ``socket.sendto`` on the selected pair;
- UDP sockets get 4 MiB kernel buffers (as far as the kernel allows) and the don't-fragment
  bit (IP_PMTUDISC_DO): a datagram over the path MTU fails with EMSGSIZE, which is dropped,
  counted (``datagrams_too_big``) and reported to ``on_datagram_too_big`` (SCTP shrinks);
- test hooks: ``consent_timeout`` (keyword and property) and ``udp_blocked`` (drop every UDP
  send, e.g. to force ICE-TCP or let consent expire); ``set_role`` for a transport created
  before its role was known (the W3C candidate pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import logging
import socket
import ssl
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rtcpeer.aio.ice_relay import Relay, RelayError
from rtcpeer.aio.ice_tcp import IceTcp
from rtcpeer.aio.mdns import MdnsResponder, Resolver
from rtcpeer.aio.mdns import resolve as mdns_resolve
from rtcpeer.ice.agent import (
    IceAgent,
    IceState,
    IceStateChanged,
    LocalKey,
    SelectedPairChanged,
)
from rtcpeer.ice.candidate import normalize_host
from rtcpeer.ice.gather import (
    InterfaceAddress,
    ServerUrl,
    enumerate_addresses,
    host_candidate,
    local_preference,
    parse_ice_servers,
    relay_candidate,
    srflx_candidate,
    usable_addresses,
)
from rtcpeer.ice.mdns import is_mdns_name
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import (
    Attr,
    MessageClass,
    Method,
    ParseError,
    StunMessage,
    new_transaction_id,
    parse,
)

logger = logging.getLogger(__name__)

Address = tuple[str, int]


def _is_loopback(host: str) -> bool:
    return host.startswith("127.") or host == "::1"


# Kernel socket buffers asked for (the kernel caps them at net.core.rmem_max/wmem_max).
UDP_BUFFER_SIZE = 4 << 20

# Linux <netinet/in.h> values; the socket module does not export them all.
_IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
_IP_PMTUDISC_DO = getattr(socket, "IP_PMTUDISC_DO", 2)
_IPV6_MTU_DISCOVER = getattr(socket, "IPV6_MTU_DISCOVER", 23)
_IPV6_PMTUDISC_DO = getattr(socket, "IPV6_PMTUDISC_DO", 2)


def tune_udp_socket(sock: socket.socket, family: int) -> None:
    """Set up a UDP socket for ICE: big kernel buffers (bursts of a fast data channel would
    otherwise overflow the default ~200 KiB) and the don't-fragment bit: the kernel never
    fragments a datagram, a send bigger than the path MTU fails with EMSGSIZE instead (RFC
    8899 needs that for path MTU probing). Each option falls back silently where refused."""
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, opt, UDP_BUFFER_SIZE)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            if family == 6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_MTU_DISCOVER, _IPV6_PMTUDISC_DO)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)
    elif family == 6 and hasattr(socket, "IPV6_DONTFRAG"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DONTFRAG, 1)


def _drop_datagram(data: bytes | bytearray | memoryview, addr: Address) -> int:
    return len(data)


def _drop_packet(data: bytes | bytearray | memoryview) -> None:
    pass


def _positive(seconds: float) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise ValueError(f"consent_timeout must be a positive number of seconds, not {seconds!r}")
    return float(seconds)


def _cand_key(cand: Candidate) -> tuple[str, str, int, str]:
    return (cand.type, cand.host, cand.port, cand.transport)


def _no_clock() -> float:
    raise RuntimeError("IceTransport used before it was attached to an event loop")


# Datagrams read per readiness callback. asyncio's own datagram transport reads one per
# event-loop iteration, which caps a busy connection far below what the socket can carry.
_READ_BATCH = 64


class _Socket:
    """One non-blocking UDP socket bound to one local address; ``key`` names it to the agent.

    Reads are batched straight from the selector callback; sends go straight to the socket.
    A full send buffer drops the datagram, as a congested network would (the protocols above
    retransmit), instead of growing an unbounded queue in user space.
    """

    def __init__(self, owner: IceTransport, key: int, sock: socket.socket) -> None:
        self.owner = owner
        self.key = key
        self.sock = sock
        self.open = True
        self.candidate: Candidate | None = None
        self.local_pref = 0
        self.family = 4
        # The srflx candidate (``_cand_key``) each STUN server last mapped this socket to.
        self.srflx: dict[str, tuple[str, str, int, str]] = {}
        self._sendto: Callable[[bytes | bytearray | memoryview, Address], int] = sock.sendto

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.sock.fileno(), self._read_ready)
        self._loop = loop

    def sendto(self, data: bytes | bytearray | memoryview, addr: Address) -> None:
        if not self.open:
            return
        try:
            self._sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            if exc.errno == errno.EMSGSIZE:
                self.owner._datagram_too_big(len(data))
                return
            # ICMP errors from earlier sends and unreachable routes: ICE sees a timeout.
            logger.debug("ICE socket %s send to %s failed: %s", self.key, addr, exc)

    def _read_ready(self) -> None:
        owner = self.owner
        recv = self.sock.recvfrom
        key = self.key
        agent_receive = owner._agent.receive
        # One clock read per batch: the agent only needs it for activity (consent) timing.
        now = owner._time()
        for _ in range(_READ_BATCH):
            try:
                data, addr = recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.debug("ICE socket %s error: %s", key, exc)
                continue
            if len(addr) != 2:
                addr = (addr[0], addr[1])  # IPv6 sockaddr has flowinfo and scope id
            try:
                if data and data[0] > 3:
                    # Hot path (RFC 7983: not STUN). The agent only stamps activity and
                    # checks the source is a remote that took part in ICE.
                    on_data = owner._on_data
                    if on_data is not None and agent_receive(data, key, addr, now) is not None:
                        on_data(data)
                else:
                    owner._on_stun(data, key, addr)
            except Exception:
                # A bug above us must not stop this socket from reading.
                logger.exception("ICE socket %s: error handling a datagram", key)

    def close(self) -> None:
        if self.open:
            self.open = False
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.sock.fileno())
            self.sock.close()


class IceTransport:
    """An ICE transport for one component (the W3C RTCIceTransport's engine)."""

    def __init__(
        self,
        controlling: bool = True,
        *,
        ice_servers: Iterable[Mapping[str, Any]] | None = None,
        ice_transport_policy: str = "all",
        include_loopback: bool = False,
        ipv6: bool = True,
        ufrag: str | None = None,
        pwd: str | None = None,
        on_candidate: Callable[[Candidate | None], None] | None = None,
        on_data: Callable[[bytes], None] | None = None,
        on_state_change: Callable[[IceState], None] | None = None,
        on_gathering_state_change: Callable[[str], None] | None = None,
        on_selected_pair_change: Callable[[Candidate, Candidate], None] | None = None,
        on_candidate_error: Callable[[str, int, str, str | None, int | None], None] | None = None,
        mdns_resolver: Resolver | None = None,
        stun_timeout: float = 3.0,
        addresses: Iterable[InterfaceAddress] | None = None,
        agent: IceAgent | None = None,
        tcp: bool = False,
        turn_ssl_context: ssl.SSLContext | None = None,
        mdns_publish: bool = False,
        mdns_responder: MdnsResponder | None = None,
        consent_timeout: float | None = None,
    ) -> None:
        if ice_transport_policy not in ("all", "relay"):
            raise ValueError(
                f"iceTransportPolicy must be 'all' or 'relay', not {ice_transport_policy!r}"
            )
        self._agent = agent or IceAgent(controlling, ufrag, pwd)
        if consent_timeout is not None:
            self._agent.consent_timeout = _positive(consent_timeout)
        self._servers: list[ServerUrl] = parse_ice_servers(ice_servers)
        self.ice_transport_policy = ice_transport_policy
        self.include_loopback = include_loopback
        self.ipv6 = ipv6
        self.stun_timeout = stun_timeout
        self.tcp = tcp
        self.turn_ssl_context = turn_ssl_context
        # RFC 8828: signal host candidates under random .local names answered by our own
        # mDNS responder (a given responder is shared and left open by close()).
        self.mdns_publish = mdns_publish or mdns_responder is not None
        self._own_responder = mdns_responder is None
        self._responder = mdns_responder
        # The interfaces to gather on (None: enumerate them at each gathering). It may be
        # changed before a restart, whose new gathering then picks up the new addresses.
        self.addresses: list[InterfaceAddress] | None = (
            list(addresses) if addresses is not None else None
        )
        self._mdns_resolver = mdns_resolver or mdns_resolve
        self.on_candidate = on_candidate
        self._on_data = on_data
        self.on_state_change = on_state_change
        self.on_gathering_state_change = on_gathering_state_change
        self.on_selected_pair_change = on_selected_pair_change
        self.on_candidate_error = on_candidate_error

        # The loop is taken when first needed, so a transport may be built outside one.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._time: Callable[[], float] = _no_clock
        self._sockets: dict[int, _Socket] = {}
        # Candidates as signalled, each with the local address it was gathered from.
        self._local: list[tuple[Candidate, str]] = []
        # What the current gathering signalled (a restart's gathering starts it afresh).
        self._announced: set[tuple[str, str, int, str]] = set()
        self.gathering_state = "new"
        self._gather_task: asyncio.Task[None] | None = None
        self._gather_tx: dict[bytes, asyncio.Future[Address]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._selected: Callable[[bytes | bytearray | memoryview], None] | None = None
        # ICE-TCP (RFC 6544): listeners for passive candidates, keys of active candidates
        # (with their local address) and the open connections by (key, remote address).
        self._tcp = IceTcp(self._on_packet)
        # TURN allocations (relayed candidates) by their local key.
        self._relays: dict[int, Relay] = {}
        self._next_key = 0
        self._state_waiters: list[asyncio.Future[None]] = []
        self._pending_remote: set[asyncio.Task[None]] = set()
        self._remote_end_requested = False
        self._closed = False
        # Datagrams dropped because they exceeded the path MTU (EMSGSIZE: the sockets never
        # fragment), and who to tell (the size that failed): the SCTP layer shrinks its MTU.
        self.datagrams_too_big = 0
        self._udp_blocked = False
        self.on_datagram_too_big: Callable[[int], None] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def agent(self) -> IceAgent:
        return self._agent

    @property
    def state(self) -> IceState:
        return self._agent.state

    @property
    def local_ufrag(self) -> str:
        return self._agent.local_ufrag

    @property
    def local_pwd(self) -> str:
        return self._agent.local_pwd

    @property
    def local_candidates(self) -> list[Candidate]:
        return [c for c, _ in self._local]

    @property
    def role(self) -> str:
        return "controlling" if self._agent.controlling else "controlled"

    def set_role(self, controlling: bool) -> None:
        """Set the ICE role of a transport created before it was known (a W3C candidate
        pool); call it before the remote description starts the checks."""
        self._agent.set_role(controlling)
        self._pump()

    @property
    def consent_timeout(self) -> float:
        """Seconds without a consent response before the pair is lost and ICE goes to
        "failed" (RFC 7675 section 5.1: 30 s). Lower it in tests; applies immediately."""
        return self._agent.consent_timeout

    @consent_timeout.setter
    def consent_timeout(self, seconds: float) -> None:
        self._agent.consent_timeout = _positive(seconds)
        if self._loop is not None:
            self._schedule()

    @property
    def udp_blocked(self) -> bool:
        """Test hook: while True, every UDP datagram this transport sends (STUN, data, TURN
        over UDP excepted) is silently dropped, as by a firewall. ICE-TCP and relays are
        untouched, so a test can force a TCP-only path or make consent expire."""
        return self._udp_blocked

    @udp_blocked.setter
    def udp_blocked(self, blocked: bool) -> None:
        self._udp_blocked = bool(blocked)
        for sock in self._sockets.values():
            sock._sendto = _drop_datagram if blocked else sock.sock.sendto
        pair = self._agent.selected_pair
        if pair is not None and self._selected is not None:
            self._selected = self._sender(pair.local_key, pair.remote_addr)

    @property
    def on_data(self) -> Callable[[bytes], None] | None:
        return self._on_data

    @on_data.setter
    def on_data(self, fn: Callable[[bytes], None] | None) -> None:
        self._on_data = fn

    def get_selected_pair(self) -> tuple[Candidate, Candidate] | None:
        pair = self._agent.selected_pair
        return (pair.local, pair.remote) if pair is not None else None

    # ------------------------------------------------------------------ gathering

    def start_gathering(self) -> None:
        """Begin gathering (idempotent); candidates arrive through ``on_candidate``."""
        if self._closed or self.gathering_state == "gathering":
            return
        loop = self._attach()
        self._set_gathering_state("gathering")
        self._gather_task = loop.create_task(self._gather())

    async def gather(self) -> None:
        """Gather and wait until gathering is complete."""
        self.start_gathering()
        if self._gather_task is not None:
            await asyncio.shield(self._gather_task)

    def _attach(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._time = self._loop.time
        return self._loop

    def _set_gathering_state(self, state: str) -> None:
        if state != self.gathering_state:
            self.gathering_state = state
            if self.on_gathering_state_change is not None:
                self._call(self.on_gathering_state_change, state)

    def _emit_candidate(self, candidate: Candidate, base: str) -> Candidate:
        """Signal a new local candidate gathered from the local address ``base``; returns
        the candidate as signalled."""
        if self._responder is not None:
            candidate = self._hide_address(candidate, self._responder)
        self._local.append((candidate, base))
        self._announced.add(_cand_key(candidate))
        if self.on_candidate is not None:
            self._call(self.on_candidate, candidate)
        return candidate

    def _hide_address(self, candidate: Candidate, responder: MdnsResponder) -> Candidate:
        """The candidate as signalled when publishing: host IPs replaced by mDNS names, and
        no related address revealing them (RFC 8828 section 5.1 and 6.2)."""
        if candidate.type == "host":
            return dataclasses.replace(candidate, host=responder.publish(candidate.host))
        if candidate.related_address is not None:
            return dataclasses.replace(candidate, related_address="0.0.0.0", related_port=0)
        return candidate

    async def _gather(self) -> None:
        try:
            if self.mdns_publish and not self._sockets:
                if self._responder is None:
                    self._responder = MdnsResponder()
                if not await self._responder.start():
                    logger.info("cannot publish mDNS names: signalling host addresses")
                    self._responder = None
            addrs = self.addresses if self.addresses is not None else enumerate_addresses()
            usable = usable_addresses(addrs, include_loopback=self.include_loopback, ipv6=self.ipv6)
            self._announced.clear()
            existing: list[_Socket] = []
            relays: list[Relay] = []
            if self._sockets:
                # A new gathering after a restart. Host candidates of addresses still present
                # are announced again at once for the new ufrag (same sockets, so the old
                # selected pair keeps working) and addresses that appeared since get new
                # sockets. Server-reflexive and relayed candidates are not replayed blindly:
                # a NAT may have rebound since (issue 9), so every existing socket asks the
                # STUN servers again and every TURN allocation is refreshed; the answers are
                # trickled as they come (the same candidate again while the mapping holds).
                still = {ia.address for ia in usable}
                for cand, base in list(self._local):
                    if base in still and cand.type == "host":
                        self._announce_again(cand)
                existing = [
                    s
                    for s in self._sockets.values()
                    if s.open and s.candidate is not None and s.candidate.host in still
                ]
                known = {s.candidate.host for s in self._sockets.values() if s.candidate}
                usable = [ia for ia in usable if ia.address not in known]
                # (An allocation still being made, without a candidate yet, is left alone.)
                relays = [
                    r
                    for r in self._relays.values()
                    if r.local_host in still and r.candidate is not None
                ]
            sockets = await self._gather_host(usable, len(self._sockets))
            # Every server is asked at once, each bounded by ``stun_timeout``, so a dead one
            # delays nothing else. TURN servers answer Binding requests too (TURN is a STUN
            # usage), which gives server-reflexive candidates.
            jobs = [self._refresh_relay(r) for r in relays]
            if self._servers and (sockets or existing):
                jobs += [self._gather_server(s, sockets, existing) for s in self._servers]
            if jobs:
                await asyncio.gather(*jobs)
            if existing or relays:
                # Mappings that did not come back in this gathering are stale: not offered
                # again (nor listed) after this restart.
                self._local = [
                    (c, b)
                    for c, b in self._local
                    if c.type not in ("srflx", "relay") or _cand_key(c) in self._announced
                ]
            self._agent.local_candidates_complete()
            self._pump()
        finally:
            self._set_gathering_state("complete")
            if self.on_candidate is not None:
                self._call(self.on_candidate, None)

    def _announce_again(self, cand: Candidate) -> None:
        """Signal an already gathered candidate again (a restart's new generation)."""
        key = _cand_key(cand)
        if key in self._announced:
            return
        self._announced.add(key)
        if self.on_candidate is not None:
            self._call(self.on_candidate, cand)

    async def _refresh_relay(self, relay: Relay) -> None:
        """On a restart: keep a TURN allocation that still answers a Refresh, else allocate
        again from the same address (the server answers 437 Allocation Mismatch to a rebound
        NAT's new 5-tuple) and signal the new relayed candidate."""
        alive = await relay.check(self.stun_timeout)
        if self._closed:
            return
        if alive is not False and relay.candidate is not None:
            # Alive, or no answer in time (unknown): offered again as it is.
            self._announce_again(relay.candidate)
            return
        self._relays.pop(relay.key, None)
        relay.close()
        sock = next(
            (
                s
                for s in self._sockets.values()
                if s.open and s.candidate is not None and s.candidate.host == relay.local_host
            ),
            None,
        )
        if sock is not None:
            logger.debug("TURN allocation on %s lost: allocating again", relay.server.display)
            await self._gather_relay(relay.server, relay.server_addr, sock)

    async def _gather_host(self, usable: list[InterfaceAddress], first: int) -> list[_Socket]:
        """Host candidates on ``usable`` addresses (ranked from ``first``); the new sockets."""
        made: list[_Socket] = []
        for index, ia in enumerate(usable, first):
            family = socket.AF_INET6 if ia.family == 6 else socket.AF_INET
            key = self._new_key()
            try:
                sock = socket.socket(family, socket.SOCK_DGRAM)
            except OSError as exc:
                logger.debug("no socket for %s: %s", ia.address, exc)
                continue
            try:
                sock.setblocking(False)
                tune_udp_socket(sock, ia.family)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((ia.address, 0))
            except OSError as exc:
                logger.debug("cannot bind %s: %s", ia.address, exc)
                sock.close()
                continue
            proto = _Socket(self, key, sock)
            if self._udp_blocked:
                proto._sendto = _drop_datagram
            proto.start(self._attach())
            port = int(sock.getsockname()[1])
            proto.local_pref = local_preference(index)
            proto.family = ia.family
            cand = host_candidate(ia.address, port, proto.local_pref)
            proto.candidate = cand
            self._sockets[key] = proto
            made.append(proto)
            if self._closed:
                return made
            if self.ice_transport_policy == "all":
                # Under "relay" the socket only talks to TURN servers; the agent never
                # learns the host candidate, so it is neither signalled nor checked.
                self._agent.add_local_candidate(cand, key)
                self._emit_candidate(cand, ia.address)
                if self.tcp:
                    await self._gather_tcp(ia.address, proto.local_pref)
            self._pump()
        return made

    def _new_key(self) -> int:
        self._next_key += 1
        return self._next_key

    async def _gather_tcp(self, address: str, local_pref: int) -> None:
        """Passive and active host candidates for ICE-TCP (RFC 6544 section 5.1)."""
        key = self._new_key()
        port = await self._tcp.listen(address, key)
        if port is None or self._closed:
            return
        passive = host_candidate(address, port, local_pref, "tcp", "passive")
        self._agent.add_local_candidate(passive, key)
        self._emit_candidate(passive, address)
        active_key = self._new_key()
        self._tcp.add_active(address, active_key)
        # Active candidates carry the discard port 9 (RFC 6544 section 4.5).
        active = host_candidate(address, 9, local_pref, "tcp", "active")
        self._agent.add_local_candidate(active, active_key)
        self._emit_candidate(active, address)

    async def _resolve_server(self, server: ServerUrl) -> dict[int, Address]:
        """The server's first address per family (4, 6); empty when it does not resolve."""
        try:
            infos = await asyncio.wait_for(
                self._attach().getaddrinfo(server.host, server.port, type=socket.SOCK_DGRAM),
                self.stun_timeout,
            )
        except (OSError, TimeoutError):
            return {}
        out: dict[int, Address] = {}
        for family, _, _, _, sockaddr in infos:
            version = 6 if family == socket.AF_INET6 else 4
            out.setdefault(version, (normalize_host(str(sockaddr[0])), int(sockaddr[1])))
        return out

    async def _gather_server(
        self, server: ServerUrl, sockets: list[_Socket], existing: list[_Socket] | None = None
    ) -> None:
        """Server-reflexive and relayed candidates from one server, from every new local
        address (``sockets``); on a restart, server-reflexive ones again from ``existing``."""
        addrs = await self._resolve_server(server)
        if not addrs:
            self._candidate_error(server, 701, f"cannot resolve {server.host}")
            return
        jobs = []
        for sock in [*sockets, *(existing or ())]:
            addr = addrs.get(sock.family)
            base = sock.candidate
            # Loopback sockets cannot reach a remote server and vice versa: nothing to try.
            if addr is None or base is None or _is_loopback(base.host) != _is_loopback(addr[0]):
                continue
            # TURN servers answer Binding requests too (TURN is a STUN usage).
            if (
                self.ice_transport_policy == "all"
                and server.scheme in ("stun", "turn")
                and server.transport == "udp"
            ):
                jobs.append(self._gather_srflx(server, addr, sock))
            if server.scheme in ("turn", "turns") and sock in sockets:
                jobs.append(self._gather_relay(server, addr, sock))
        if jobs:
            await asyncio.gather(*jobs)

    async def _gather_srflx(self, server: ServerUrl, addr: Address, sock: _Socket) -> None:
        if sock.candidate is None or not sock.open:
            return
        base = sock.candidate
        try:
            mapped = await asyncio.wait_for(self._stun_binding(addr, sock), self.stun_timeout)
        except TimeoutError:
            logger.debug("STUN server %s did not answer from %s", server.text, base.host)
            self._candidate_error(server, 701, "STUN binding request timed out", sock)
            # On a restart: the mapping is unknown, so what this socket had is offered again.
            for old, _ in list(self._local):
                if old.type == "srflx" and sock.srflx.get(server.text) == _cand_key(old):
                    self._announce_again(old)
            return
        if mapped is None or self._closed:
            return
        cand = srflx_candidate(mapped, base, sock.local_pref, server.text)
        if cand is None:
            return
        key = _cand_key(cand)
        sock.srflx[server.text] = key
        if key in self._announced:
            return  # another server gave the same mapping
        for known, _ in self._local:
            if known.type == "srflx" and _cand_key(known) == key:
                # The mapping still holds (a restart): the same candidate again.
                self._announce_again(known)
                return
        self._agent.add_local_candidate(cand, sock.key)
        self._emit_candidate(cand, base.host)
        self._pump()

    async def _gather_relay(self, server: ServerUrl, addr: Address, sock: _Socket) -> None:
        """A relayed candidate from one TURN server, allocated from ``sock``'s address."""
        if sock.candidate is None or self._closed:
            return
        base = sock.candidate
        key = self._new_key()
        relay = Relay(
            key,
            server,
            addr,
            base.host,
            sock.family,
            self._time,
            lambda data, peer: self._on_packet(data, key, peer),
            self._schedule,
            self.turn_ssl_context,
        )
        self._relays[key] = relay
        try:
            relayed, mapped = await relay.allocate(self.stun_timeout)
        except RelayError as exc:
            self._relays.pop(key, None)
            logger.debug("TURN server %s: %s", server.display, exc)
            self._candidate_error(server, exc.code, exc.text, sock)
            return
        if self._closed:
            relay.close()
            return
        # Browsers rank relays by the transport to the server: UDP, then TCP, then TLS.
        offset = 2 if relay.secure else 1 if relay.transport == "tcp" else 0
        cand = relay_candidate(relayed, mapped, max(sock.local_pref - offset, 0), server.text)
        for remote in self._agent.remote_candidates:
            relay.permit(remote.host)
        self._agent.add_local_candidate(cand, key)
        relay.candidate = self._emit_candidate(cand, base.host)
        self._pump()

    def _on_packet(self, data: bytes, key: int, peer: Address) -> None:
        """A packet from ``peer`` through a relay or an ICE-TCP connection: data or STUN."""
        if data and data[0] > 3:
            on_data = self._on_data
            if (
                on_data is not None
                and self._agent.receive(data, key, peer, self._time()) is not None
            ):
                on_data(data)
        else:
            self._on_stun(data, key, peer)

    def _candidate_error(
        self, server: ServerUrl, code: int, text: str, sock: _Socket | None = None
    ) -> None:
        """Report a STUN/TURN server failure (W3C RTCPeerConnectionIceErrorEvent): url,
        errorCode, errorText, then the address and port of the local socket that talked to
        the server (None when there was none, or when its address is hidden behind mDNS)."""
        if self.on_candidate_error is None or self._closed:
            return
        address: str | None = None
        port: int | None = None
        base = sock.candidate if sock is not None else None
        if base is not None and self._responder is None:
            address, port = base.host, base.port
        self._call(self.on_candidate_error, server.display, code, text, address, port)

    async def _stun_binding(self, addr: Address, sock: _Socket) -> Address | None:
        if not sock.open:
            return None
        msg = StunMessage(Method.BINDING, MessageClass.REQUEST, new_transaction_id())
        data = msg.encode(fingerprint=True)
        tid = bytes(msg.transaction_id)
        fut: asyncio.Future[Address] = self._attach().create_future()
        self._gather_tx[tid] = fut
        rto = 0.25
        try:
            while True:
                if not sock.open:
                    return None
                sock.sendto(data, addr)
                try:
                    return await asyncio.wait_for(asyncio.shield(fut), rto)
                except TimeoutError:
                    rto = min(rto * 2, 1.0)
        finally:
            self._gather_tx.pop(tid, None)

    # ------------------------------------------------------------------ remote side

    def set_remote_credentials(self, ufrag: str, pwd: str) -> None:
        self._agent.set_remote_credentials(ufrag, pwd)
        self._pump()

    def add_remote_candidate(self, candidate: Candidate | None) -> None:
        """Add a remote candidate (or ``None`` = end-of-candidates); mDNS names resolve first."""
        if self._closed:
            return
        if candidate is None:
            self._remote_end_requested = True
            if not self._pending_remote:
                self._agent.add_remote_candidate(None)
                self._pump()
            return
        if is_mdns_name(candidate.host):
            task = asyncio.get_running_loop().create_task(self._resolve_remote(candidate))
            self._pending_remote.add(task)
            task.add_done_callback(self._remote_resolved)
            return
        self._add_remote(candidate)

    def _add_remote(self, candidate: Candidate) -> None:
        self._agent.add_remote_candidate(candidate)
        # Our relays must let this peer address in (RFC 8656 section 9: permissions are
        # per IP address), or its checks to our relayed candidates would be dropped.
        for relay in self._relays.values():
            if relay.family == (6 if ":" in candidate.host else 4):
                relay.permit(candidate.host)
        self._pump()

    async def _resolve_remote(self, candidate: Candidate) -> None:
        try:
            address = await self._mdns_resolver(candidate.host)
        except Exception:  # a user-supplied resolver must not break ICE
            logger.debug("mDNS resolver failed for %s", candidate.host, exc_info=True)
            address = None
        if address is None or self._closed:
            logger.debug("dropping unresolvable mDNS candidate %s", candidate.host)
            return
        candidate.host = address
        self._add_remote(candidate)

    def _remote_resolved(self, task: asyncio.Task[None]) -> None:
        self._pending_remote.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.debug("mDNS resolution task failed", exc_info=task.exception())
        if self._remote_end_requested and not self._pending_remote and not self._closed:
            self._agent.add_remote_candidate(None)
            self._pump()

    # ------------------------------------------------------------------ connecting, data

    async def connect(self, timeout: float | None = None) -> None:
        """Wait until connected/completed; raises ConnectionError if ICE fails or closes."""

        async def wait() -> None:
            while True:
                st = self._agent.state
                if st in (IceState.CONNECTED, IceState.COMPLETED):
                    return
                if st in (IceState.FAILED, IceState.CLOSED):
                    raise ConnectionError(f"ICE {st.value}")
                fut: asyncio.Future[None] = self._attach().create_future()
                self._state_waiters.append(fut)
                await fut

        await asyncio.wait_for(wait(), timeout)

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Send application data on the selected pair (dropped when there is none)."""
        sel = self._selected
        if sel is not None:
            sel(data)

    def restart(self, ufrag: str | None = None, pwd: str | None = None) -> None:
        """ICE restart with new local credentials (given, or random); then ``gather()``
        re-announces the candidates for the new generation."""
        self._agent.restart(ufrag, pwd)
        self._remote_end_requested = False
        self.gathering_state = "new"
        self._pump()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._pending_remote):
            task.cancel()
        if self._gather_task is not None and not self._gather_task.done():
            self._gather_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._gather_task
        self._agent.close()
        self._process_events()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sock in self._sockets.values():
            sock.close()
        tasks = list(self._pending_remote)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._tcp.close()
        for relay in self._relays.values():
            relay.close()
        if self._responder is not None and self._own_responder:
            self._responder.close()
        self._selected = None

    # ------------------------------------------------------------------ plumbing

    def _on_stun(self, data: bytes, key: int, addr: Address) -> None:
        if len(data) >= 20 and self._gather_tx:
            fut = self._gather_tx.get(bytes(data[8:20]))
            if fut is not None:
                try:
                    msg = parse(data)
                except ParseError:
                    return
                mapped = msg.get(Attr.XOR_MAPPED_ADDRESS) or msg.get(Attr.MAPPED_ADDRESS)
                if (
                    msg.message_class == MessageClass.SUCCESS
                    and isinstance(mapped, tuple)
                    and not fut.done()
                ):
                    fut.set_result((str(mapped[0]), int(mapped[1])))
                return
        if self._closed:
            return
        self._agent.receive(data, key, addr, self._time())
        self._pump()

    def _pump(self) -> None:
        """Send what the agent queued, handle its events, re-arm the timer."""
        if self._closed:
            return
        sockets = self._sockets
        for data, key, addr in self._agent.datagrams_to_send():
            sock = sockets.get(key)  # type: ignore[call-overload]
            if sock is not None:
                sock.sendto(data, addr)
            elif isinstance(key, int):
                relay = self._relays.get(key)
                if relay is not None:
                    relay.send(data, addr)
                else:
                    self._tcp.send(key, data, addr)
        self._process_events()
        self._schedule()

    def _process_events(self) -> None:
        for ev in self._agent.events():
            if isinstance(ev, SelectedPairChanged):
                self._selected = self._sender(ev.local_key, ev.remote_addr)
                if self.on_selected_pair_change is not None:
                    self._call(self.on_selected_pair_change, ev.local, ev.remote)
            elif isinstance(ev, IceStateChanged):
                if ev.state in (IceState.FAILED, IceState.CLOSED):
                    # RFC 7675 section 5.1: without consent, transmission on the pair stops.
                    self._selected = None
                if self.on_state_change is not None:
                    self._call(self.on_state_change, ev.state)
                waiters, self._state_waiters = self._state_waiters, []
                for fut in waiters:
                    if not fut.done():
                        fut.set_result(None)

    def _sender(
        self, key: LocalKey, addr: Address
    ) -> Callable[[bytes | bytearray | memoryview], None] | None:
        """A direct send function for the selected pair (the application data hot path)."""
        sock = self._sockets.get(key)  # type: ignore[call-overload]
        if sock is not None:
            if self._udp_blocked:
                return _drop_packet
            raw_sendto = sock.sock.sendto
            too_big = self._datagram_too_big

            def send_udp(data: bytes | bytearray | memoryview) -> None:
                try:
                    raw_sendto(data, addr)
                except OSError as exc:
                    # Full buffer or ICMP error: dropped like a lost datagram.
                    if exc.errno == errno.EMSGSIZE:
                        too_big(len(data))

            return send_udp
        relay = self._relays.get(key)  # type: ignore[call-overload]
        if relay is not None:
            relay_send = relay.send

            def send_relay(data: bytes | bytearray | memoryview) -> None:
                relay_send(data, addr)

            return send_relay
        if isinstance(key, int) and self._tcp.owns(key):
            return self._tcp.sender(key, addr)
        return None

    def _datagram_too_big(self, size: int) -> None:
        self.datagrams_too_big += 1
        if self.on_datagram_too_big is not None:
            self._call(self.on_datagram_too_big, size)

    def _schedule(self) -> None:
        if self._closed:
            return
        at = self._agent.next_timeout()
        for relay in self._relays.values():
            t = relay.next_timeout()
            if t is not None and (at is None or t < at):
                at = t
        if at == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at is not None:
            loop = self._attach()
            self._timer = loop.call_at(max(at, loop.time()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self._closed:
            return
        now = self._time()
        self._agent.timeout(now)
        for relay in list(self._relays.values()):
            t = relay.next_timeout()
            if t is not None and t <= now:
                relay.timeout(now)
        self._pump()

    @staticmethod
    def _call(fn: Callable[..., Any], *args: Any) -> None:
        # A user callback's exception is logged, never allowed to break ICE.
        try:
            fn(*args)
        except Exception:
            logger.exception("ICE callback %r failed", fn)


__all__ = ["IceTransport", "IceState", "LocalKey"]
