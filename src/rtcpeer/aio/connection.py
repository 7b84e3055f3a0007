"""The per-connection pipeline: ICE transport -> DTLS core -> SCTP association -> data channels.

One :class:`Connection` per peer connection (max-bundle: one transport carries everything).
It owns one asyncio timer for the DTLS and SCTP cores (the ICE transport keeps its own) and
moves bytes between the layers:

- inbound: the ICE transport hands every non-STUN datagram to :meth:`Connection._on_ice_data`
  (RFC 7983 demultiplexing: 20..63 is DTLS, 128..191 RTP/RTCP for the media hook); decrypted
  DTLS records go straight into the SCTP association;
- outbound: SCTP packets are encrypted by DTLS and sent on the selected ICE pair.

Work triggered by packets or by ``send`` calls is batched: the pipeline is flushed once per
event-loop iteration (``loop.call_soon``), so a burst of reads or a loop of ``send`` calls
produces one round of SACKs/packets, not one per message.

Events for the W3C objects leave through the ``on_event`` callback: the data channel events
of :mod:`rtcpeer.sctp.channels` plus :class:`DtlsStateChanged`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass

from rtcpeer.aio.ice import IceState, IceTransport
from rtcpeer.dtls.certificate import RTCCertificate, certificate_fingerprint
from rtcpeer.dtls.transport import DtlsClosed, DtlsConnected, DtlsCore, DtlsFailed
from rtcpeer.errors import NotSupportedError
from rtcpeer.limits import DEFAULT_LIMITS, Limits
from rtcpeer.sctp.association import Association
from rtcpeer.sctp.channels import ChannelEvent, DataChannelCore
from rtcpeer.sctp.chunks import ParseError as SctpParseError

__all__ = ["Connection", "DtlsStateChanged"]

logger = logging.getLogger(__name__)

_EARLY_LIMIT = 32  # DTLS datagrams kept while the DTLS core does not exist yet
# SCTP packet size probed on a same-host pair (the remote address is a loopback one or our
# own: either way the kernel's loopback device carries it): one full DTLS record (the
# RFC 6347 plaintext limit). Other paths keep the 1200-byte default: without DF set on the ICE sockets a
# successful probe would not prove the path, only that IP fragmentation works today.
LOOPBACK_MTU = 16384
# Probe only once bulk data is queued: a probed 16 KiB packet makes OpenSSL keep record-sized
# buffers for the life of the connection (~68 KiB per peer connection), which idle or chatty
# connections should not pay for.
PROBE_AFTER_QUEUED = 64 * 1024
# Our SDP extension attribute (data m-section): the largest SCTP packet the endpoint accepts.
# Only a peer announcing it is probed: Chromium breaks on DTLS records above ~2 KB.
MAX_PACKET_ATTRIBUTE = "x-rtcpeer-max-packet"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class DtlsStateChanged:
    """W3C RTCDtlsTransportState: new, connecting, connected, closed, failed."""

    state: str
    reason: str = ""


class Connection:
    """ICE -> DTLS -> SCTP for one peer connection. See the module docstring."""

    def __init__(
        self,
        ice: IceTransport,
        on_event: Callable[[ChannelEvent | DtlsStateChanged], None],
        *,
        on_rtp: Callable[[bytes], None] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.ice = ice
        self.limits = limits if limits is not None else DEFAULT_LIMITS
        self.on_event = on_event
        self.on_rtp = on_rtp
        # Media hook: SRTP keys from the handshake (DTLS-SRTP, RFC 5764).
        self.on_dtls_connected: Callable[[DtlsConnected], None] | None = None
        self.srtp_keys: tuple[str | None, bytes] | None = None
        self.dtls: DtlsCore | None = None
        self.channels: DataChannelCore | None = None
        self.dtls_role: str | None = None
        self.dtls_state = "new"
        self.remote_fingerprints: list[tuple[str, str]] = []
        self._dtls_started = False
        self._early: list[bytes] = []
        self._unsent: list[bytes] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_pending = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._closed = False
        self._mtu_probed = False
        self._base_mtu = 1200  # the association's packet size before any probe
        self.remote_max_packet = 0  # the peer's a=x-rtcpeer-max-packet (0: never probe)
        # Counters for getStats (cheap: two adds per datagram).
        self.bytes_sent = 0
        self.bytes_received = 0
        self.packets_sent = 0
        self.packets_received = 0
        ice.on_data = self._on_ice_data
        # The sockets never fragment (IP_PMTUDISC_DO): a datagram over the path MTU fails.
        ice.on_datagram_too_big = self._on_datagram_too_big

    # ------------------------------------------------------------------ setup

    def _time(self) -> float:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.time()

    def start(
        self,
        certificate: RTCCertificate,
        role: str,
        remote_fingerprints: list[tuple[str, str]],
        *,
        local_sctp_port: int = 5000,
        remote_sctp_port: int = 5000,
        remote_max_message_size: int = 65536,
        local_max_message_size: int = 262144,
        remote_max_packet: int = 0,
    ) -> None:
        """Create the DTLS and SCTP cores once negotiation fixed the DTLS role."""
        if self.dtls is not None or self._closed:
            return
        now = self._time()
        limits = self.limits
        self.dtls_role = role
        self.remote_max_packet = remote_max_packet
        self.remote_fingerprints = list(remote_fingerprints)
        self.dtls = DtlsCore(
            certificate,
            "client" if role == "client" else "server",
            list(remote_fingerprints),
            srtp=True,
        )
        assoc = Association(
            role == "client",
            local_sctp_port,
            remote_sctp_port,
            max_message_size=max(local_max_message_size, 262144) + 1024,
            receive_window=limits.max_receive_buffer,
            max_send_buffer=limits.max_send_buffer,
            max_reassembly=limits.max_reassembly_bytes,
        )
        self._base_mtu = assoc.mtu
        self.channels = DataChannelCore(
            assoc,
            role == "client",
            remote_max_message_size=remote_max_message_size,
            max_channels=limits.max_channels,
            max_buffered_amount=limits.max_buffered_amount,
            max_send_message_size=limits.max_send_message_size,
        )
        if role == "server":
            self._start_dtls(now)
        elif self.ice.state in (IceState.CONNECTED, IceState.COMPLETED):
            self._start_dtls(now)
        early, self._early = self._early, []
        for data in early:
            self._on_ice_data(data)
        self.kick()

    def _start_dtls(self, now: float) -> None:
        if self._dtls_started or self.dtls is None:
            return
        self._dtls_started = True
        self._set_dtls_state("connecting")
        self.dtls.start(now)

    def ice_state_changed(self, state: IceState) -> None:
        """Called by the peer connection: a DTLS client starts once ICE is connected."""
        if state in (IceState.CONNECTED, IceState.COMPLETED) and self.dtls is not None:
            if not self._dtls_started:
                self._start_dtls(self._time())
                self.kick()

    def selected_pair_changed(self) -> None:
        """Called by the peer connection: datagrams held for lack of a pair can go now."""
        self._mtu_probed = False  # a new path: back to the safe size, probe again
        channels = self.channels
        if channels is not None:
            channels.association.reset_mtu(self._base_mtu)
        if channels is not None and self.dtls_state == "connected":
            # Data lost on the old path goes again now, not at SCTP's backed-off T3.
            channels.association.path_changed(self._time())
            self.kick()
        elif self._unsent:
            self.kick()

    def _on_datagram_too_big(self, size: int) -> None:
        """A datagram of ``size`` bytes exceeded the path MTU (EMSGSIZE) and was dropped:
        SCTP goes back to its safe packet size and does not probe this path again."""
        channels = self.channels
        self._mtu_probed = True
        if channels is not None and channels.association.mtu > self._base_mtu:
            channels.association.reset_mtu(self._base_mtu)

    def _maybe_probe_mtu(self, channels: DataChannelCore) -> None:
        """Once SCTP is up on a loopback pair, probe for full-record SCTP packets."""
        self._mtu_probed = True
        size = min(self.remote_max_packet, LOOPBACK_MTU)
        if size <= channels.association.mtu:
            return
        pair = self.ice.get_selected_pair()
        if pair is None or pair[0].type != "host" or pair[0].transport != "udp":
            return
        remote = pair[1].host
        # Same host: the kernel routes datagrams to any of our own addresses over loopback.
        if not _is_loopback(remote) and remote != pair[0].host:
            return
        channels.association.probe_mtu(size, self._time())

    def remote_fingerprints_match(self, fingerprints: list[tuple[str, str]]) -> bool:
        """May a renegotiation with these remote fingerprints keep the running DTLS session?

        True before DTLS exists. Once the peer's certificate is known, one of the new
        fingerprints must match it; before that, the set must not have changed.
        """
        if self.dtls is None:
            return True
        der = self.dtls.remote_certificate
        if der:
            for algorithm, value in fingerprints:
                try:
                    if certificate_fingerprint(der, algorithm) == value.upper():
                        return True
                except NotSupportedError:
                    continue
            return False
        norm = {(a.lower(), v.upper()) for a, v in fingerprints}
        return norm == {(a.lower(), v.upper()) for a, v in self.remote_fingerprints}

    def set_remote_max_message_size(self, size: int) -> None:
        if self.channels is not None:
            self.channels.set_remote_max_message_size(size)

    # ------------------------------------------------------------------ data path

    def _on_ice_data(self, data: bytes) -> None:
        if self._closed or not data:
            return
        self.bytes_received += len(data)
        self.packets_received += 1
        first = data[0]
        if 19 < first < 64:
            dtls = self.dtls
            if dtls is None or not self._dtls_started:
                if dtls is None:
                    if len(self._early) < _EARLY_LIMIT:
                        self._early.append(bytes(data))
                    return
                # A DTLS client whose ICE is not "connected" yet but the peer already
                # talks to us: the path works, start now.
                self._start_dtls(self._time())
            now = self._time()
            try:
                records = dtls.receive(data, now)
            except Exception:  # the DTLS layer must not raise, but never let it kill us
                logger.debug("DTLS receive failed", exc_info=True)
                records = []
            channels = self.channels
            if channels is not None:
                for record in records:
                    try:
                        channels.receive(record, now)
                    except SctpParseError:
                        logger.debug("bad SCTP packet dropped")
            self.kick()
        elif 127 < first < 192:
            if self.on_rtp is not None:
                self.on_rtp(data)

    def kick(self) -> None:
        """Schedule one flush of the pipeline in this event-loop iteration."""
        if self._flush_pending or self._closed:
            return
        self._flush_pending = True
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        if self._closed and self.dtls is None:
            return
        dtls = self.dtls
        if dtls is None:
            return
        channels = self.channels
        ice_send = self.ice.send
        # Handshake/alert events first: SCTP starts on top of a connected DTLS.
        self._dtls_events()
        if channels is not None and self.dtls_state == "connected":
            if (
                not self._mtu_probed
                and channels.connected
                and channels.association.queued_bytes >= PROBE_AFTER_QUEUED
            ):
                self._maybe_probe_mtu(channels)
            # One call per burst: send_many encrypts all and returns everything queued.
            out = dtls.send_many(channels.packets_to_send())
        else:
            out = dtls.datagrams_to_send()
        sent_bytes = 0
        count = 0
        if self.ice.get_selected_pair() is None:
            # The peer's ICE may be connected (and its DTLS talking) before our agent has
            # selected a pair: keep the datagrams until it has (see selected_pair_changed).
            if out:
                self._unsent.extend(out)
                del self._unsent[:-_EARLY_LIMIT]
            out = []
        elif self._unsent:
            out = self._unsent + out
            self._unsent = []
        for datagram in out:
            ice_send(datagram)
            sent_bytes += len(datagram)
            count += 1
        self.bytes_sent += sent_bytes
        self.packets_sent += count
        if channels is not None:
            events = channels.events()
            if events:
                on_event = self.on_event
                for ev in events:
                    on_event(ev)
        self._schedule()

    def _dtls_events(self) -> None:
        dtls = self.dtls
        assert dtls is not None
        for ev in dtls.events():
            if isinstance(ev, DtlsConnected):
                self.srtp_keys = (ev.srtp_profile, ev.keying_material)
                if self.on_dtls_connected is not None:
                    self.on_dtls_connected(ev)
                self._set_dtls_state("connected")
                if self.channels is not None:
                    self.channels.connect(self._time())
            elif isinstance(ev, DtlsClosed):
                self._set_dtls_state("closed")
                if self.channels is not None:
                    self.channels.abort("DTLS closed")
            elif isinstance(ev, DtlsFailed):
                reason = ev.reason
                logger.info("DTLS failed: %s", reason)
                self._set_dtls_state("failed", reason)
                if self.channels is not None:
                    self.channels.abort("DTLS failed")

    def _set_dtls_state(self, state: str, reason: str = "") -> None:
        if state != self.dtls_state:
            self.dtls_state = state
            self.on_event(DtlsStateChanged(state, reason))

    def _schedule(self) -> None:
        if self._closed:
            return
        at: float | None = None
        if self.dtls is not None:
            at = self.dtls.next_timeout()
        if self.channels is not None:
            t = self.channels.next_timeout()
            if t is not None and (at is None or t < at):
                at = t
        if at == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at is not None:
            loop = self._loop or asyncio.get_running_loop()
            self._timer = loop.call_at(max(at, loop.time()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self._closed:
            return
        now = self._time()
        if self.dtls is not None:
            self.dtls.timeout(now)
        if self.channels is not None:
            self.channels.timeout(now)
        self._flush()

    # ------------------------------------------------------------------ teardown

    async def close(self) -> None:
        """Abort SCTP, send DTLS close_notify, close ICE."""
        if self._closed:
            return
        if self.channels is not None and self.dtls_state == "connected":
            self.channels.abort("peer connection closed")
            if self.dtls is not None:
                for packet in self.channels.packets_to_send():
                    self.dtls.send(packet)
            self.channels.events()
        if self.dtls is not None:
            try:
                self.dtls.close()
                for datagram in self.dtls.datagrams_to_send():
                    self.ice.send(datagram)
            except Exception:
                logger.debug("DTLS close failed", exc_info=True)
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.dtls_state not in ("closed", "failed", "new"):
            self.dtls_state = "closed"
        await self.ice.close()
