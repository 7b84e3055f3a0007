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
import dataclasses as dataclasses
import errno
import logging
import socket as socket
import ssl
import sys as sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rtcpeer.aio.ice_gather import IceGathering
from rtcpeer.aio.ice_relay import Relay as Relay
from rtcpeer.aio.ice_relay import RelayError as RelayError
from rtcpeer.aio.ice_socket import _IP_MTU_DISCOVER as _IP_MTU_DISCOVER
from rtcpeer.aio.ice_socket import _IP_PMTUDISC_DO as _IP_PMTUDISC_DO
from rtcpeer.aio.ice_socket import _IPV6_MTU_DISCOVER as _IPV6_MTU_DISCOVER
from rtcpeer.aio.ice_socket import _IPV6_PMTUDISC_DO as _IPV6_PMTUDISC_DO
from rtcpeer.aio.ice_socket import _READ_BATCH as _READ_BATCH
from rtcpeer.aio.ice_socket import UDP_BUFFER_SIZE as UDP_BUFFER_SIZE
from rtcpeer.aio.ice_socket import Address as Address
from rtcpeer.aio.ice_socket import _cand_key as _cand_key
from rtcpeer.aio.ice_socket import _drop_datagram as _drop_datagram
from rtcpeer.aio.ice_socket import _drop_packet as _drop_packet
from rtcpeer.aio.ice_socket import _is_loopback as _is_loopback
from rtcpeer.aio.ice_socket import _no_clock as _no_clock
from rtcpeer.aio.ice_socket import _positive as _positive
from rtcpeer.aio.ice_socket import _Socket as _Socket
from rtcpeer.aio.ice_socket import tune_udp_socket as tune_udp_socket
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
from rtcpeer.ice.candidate import normalize_host as normalize_host
from rtcpeer.ice.gather import (
    InterfaceAddress,
    ServerUrl,
    parse_ice_servers,
)
from rtcpeer.ice.gather import enumerate_addresses as enumerate_addresses
from rtcpeer.ice.gather import host_candidate as host_candidate
from rtcpeer.ice.gather import local_preference as local_preference
from rtcpeer.ice.gather import relay_candidate as relay_candidate
from rtcpeer.ice.gather import srflx_candidate as srflx_candidate
from rtcpeer.ice.gather import usable_addresses as usable_addresses
from rtcpeer.ice.mdns import is_mdns_name
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import (
    Attr,
    MessageClass,
    ParseError,
    parse,
)
from rtcpeer.stun import Method as Method
from rtcpeer.stun import StunMessage as StunMessage
from rtcpeer.stun import new_transaction_id as new_transaction_id

logger = logging.getLogger(__name__)


class IceTransport(IceGathering):
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
