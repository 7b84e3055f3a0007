"""Candidate gathering of the asyncio ICE transport (:mod:`rtcpeer.aio.ice`): host sockets,
ICE-TCP listeners, server-reflexive candidates from STUN servers, relayed candidates from TURN
servers, an ICE restart's re-gathering, mDNS address hiding and icecandidateerror reports.

:class:`IceGathering` is a mixin of :class:`rtcpeer.aio.ice.IceTransport`: it holds only
methods; the state they use is created by ``IceTransport.__init__``."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from rtcpeer.aio.ice_relay import Relay, RelayError
from rtcpeer.aio.ice_socket import (
    Address,
    _cand_key,
    _drop_datagram,
    _is_loopback,
    _Socket,
    logger,
    tune_udp_socket,
)
from rtcpeer.aio.ice_tcp import IceTcp
from rtcpeer.aio.mdns import MdnsResponder
from rtcpeer.ice.agent import IceAgent
from rtcpeer.ice.candidate import normalize_host
from rtcpeer.ice.gather import (
    InterfaceAddress,
    ServerUrl,
    enumerate_addresses,
    host_candidate,
    local_preference,
    relay_candidate,
    srflx_candidate,
    usable_addresses,
)
from rtcpeer.sdp.candidate import Candidate
from rtcpeer.stun import MessageClass, Method, StunMessage, new_transaction_id

if TYPE_CHECKING:
    from rtcpeer.aio.ice import IceTransport


class IceGathering:
    """Gathering methods of :class:`rtcpeer.aio.ice.IceTransport` (a mixin)."""

    # State owned and initialised by IceTransport.__init__ (declared for type checking).
    _agent: IceAgent
    _servers: list[ServerUrl]
    ice_transport_policy: str
    include_loopback: bool
    ipv6: bool
    stun_timeout: float
    tcp: bool
    turn_ssl_context: ssl.SSLContext | None
    mdns_publish: bool
    _responder: MdnsResponder | None
    addresses: list[InterfaceAddress] | None
    on_candidate: Callable[[Candidate | None], None] | None
    on_gathering_state_change: Callable[[str], None] | None
    on_candidate_error: Callable[[str, int, str, str | None, int | None], None] | None
    _loop: asyncio.AbstractEventLoop | None
    _time: Callable[[], float]
    _sockets: dict[int, _Socket]
    _local: list[tuple[Candidate, str]]
    _announced: set[tuple[str, str, int, str]]
    gathering_state: str
    _gather_tx: dict[bytes, asyncio.Future[Address]]
    _tcp: IceTcp
    _relays: dict[int, Relay]
    _next_key: int
    _closed: bool
    _udp_blocked: bool

    # Implemented by IceTransport.
    def _pump(self) -> None:
        raise NotImplementedError

    def _schedule(self) -> None:
        raise NotImplementedError

    def _on_packet(self, data: bytes, key: int, peer: Address) -> None:
        raise NotImplementedError

    @staticmethod
    def _call(fn: Callable[..., Any], *args: Any) -> None:
        raise NotImplementedError

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
            proto = _Socket(cast("IceTransport", self), key, sock)
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
