"""One BUNDLE transport's worth of RTP: SRTP, RTP/RTCP demultiplexing and routing.

Sans-I/O. Incoming datagrams (RTP or RTCP, RFC 5761 muxed) are unprotected (RFC 3711), parsed
once and routed to the receiver cores per RFC 8843 section 9.2: by the MID header extension
(learning the SSRC on the way), then by a known SSRC, then by a payload type unique to one
receiver. RTCP goes to every sender and receiver core (each filters by SSRC). Transport-wide
feedback (draft-holmer-rmcat-transport-wide-cc-extensions) is generated here, once per
transport. Outgoing plain datagrams from the cores are protected and queued.
"""

from __future__ import annotations

from typing import Protocol

from rtcpeer.rtp.packet import ParseError, RtpPacket, decode_transport_cc_seq, is_rtcp
from rtcpeer.rtp.receiver import RtpReceiverCore
from rtcpeer.rtp.rtcp import parse_rtcp
from rtcpeer.rtp.sender import RtpSenderCore
from rtcpeer.rtp.srtp import SrtpSession
from rtcpeer.rtp.twcc import TransportFeedbackBuilder

__all__ = ["RtpSession"]


class _Core(Protocol):
    def timeout(self, now: float) -> None: ...
    def next_timeout(self) -> float | None: ...
    def packets_to_send(self) -> list[bytes]: ...


class RtpSession:
    def __init__(
        self,
        *,
        mid_extension_id: int | None = None,
        transport_cc_extension_id: int | None = None,
        feedback_ssrc: int = 1,
    ) -> None:
        self.mid_extension_id = mid_extension_id
        self.transport_cc_extension_id = transport_cc_extension_id
        self.srtp: SrtpSession | None = None
        self.senders: list[RtpSenderCore] = []
        self._by_mid: dict[str, RtpReceiverCore] = {}
        self._by_ssrc: dict[int, RtpReceiverCore] = {}
        self._by_pt: dict[int, RtpReceiverCore | None] = {}  # None: ambiguous
        self._receivers: list[RtpReceiverCore] = []
        self.twcc = TransportFeedbackBuilder(feedback_ssrc)
        self._transport_seq = 0
        self._out: list[bytes] = []
        self.parse_errors = 0
        self.unroutable = 0

    # ------------------------------------------------------------ set-up

    def set_srtp(self, profile: str, keying_material: bytes, is_client: bool) -> None:
        """Key from DtlsConnected(srtp_profile, keying_material); is_client = DTLS role."""
        self.srtp = SrtpSession(profile, keying_material, is_client)

    def next_transport_sequence(self) -> int:
        """Pass as ``transport_sequence`` to every RtpSenderCore on this transport."""
        seq = self._transport_seq
        self._transport_seq = (seq + 1) & 0xFFFF
        return seq

    def add_sender(self, core: RtpSenderCore) -> None:
        self.senders.append(core)

    def remove_sender(self, core: RtpSenderCore) -> None:
        if core in self.senders:
            self.senders.remove(core)

    def add_receiver(
        self,
        core: RtpReceiverCore,
        *,
        mid: str | None = None,
        ssrcs: list[int] | None = None,
        payload_types: list[int] | None = None,
    ) -> None:
        """Route to ``core`` by ``mid`` (a=mid), ``ssrcs`` (a=ssrc, including RTX) and
        ``payload_types`` (its codecs' and RTX payload types)."""
        self._receivers.append(core)
        if mid is not None:
            self._by_mid[mid] = core
        for ssrc in ssrcs or []:
            self._by_ssrc[ssrc] = core
        pts = list(payload_types or [core.codec.payload_type])
        if core.rtx_payload_type is not None and core.rtx_payload_type not in pts:
            pts.append(core.rtx_payload_type)
        for pt in pts:
            self._by_pt[pt] = core if pt not in self._by_pt else None

    def remove_receiver(self, core: RtpReceiverCore) -> None:
        if core in self._receivers:
            self._receivers.remove(core)
        for mid in [k for k, v in self._by_mid.items() if v is core]:
            del self._by_mid[mid]
        for ssrc in [k for k, v in self._by_ssrc.items() if v is core]:
            del self._by_ssrc[ssrc]
        for key in [k for k, v in self._by_pt.items() if v is core]:
            del self._by_pt[key]

    # ------------------------------------------------------------ input

    def receive(self, data: bytes, now: float) -> RtpReceiverCore | None:
        """One datagram from the transport (first byte 128..191). Returns the receiver that
        got an RTP packet (feed its RtpMediaReceiver), or None."""
        srtp = self.srtp
        if srtp is None:
            return None
        if is_rtcp(data):
            plain = srtp.unprotect_rtcp(data)
            if plain is None:
                return None
            try:
                packets = parse_rtcp(plain)
            except ParseError:
                self.parse_errors += 1
                return None
            for sender in self.senders:
                sender.receive_rtcp(packets, now)
            for receiver in self._receivers:
                receiver.receive_rtcp(packets, now)
            return None
        plain = srtp.unprotect(data)
        if plain is None:
            return None
        try:
            packet = RtpPacket.parse(plain)
        except ParseError:
            self.parse_errors += 1
            return None
        target = self._route(packet)
        if self.transport_cc_extension_id is not None:
            value = packet.extensions.get(self.transport_cc_extension_id)
            if value is not None:
                try:
                    self.twcc.on_packet(decode_transport_cc_seq(value), packet.ssrc, now)
                except ParseError:
                    self.parse_errors += 1
        if target is None:
            self.unroutable += 1
            return None
        target.receive_rtp(packet, now)
        return target

    def _route(self, packet: RtpPacket) -> RtpReceiverCore | None:
        if self.mid_extension_id is not None:
            mid = packet.extensions.get(self.mid_extension_id)
            if mid is not None:
                receiver = self._by_mid.get(mid.decode("utf-8", "replace"))
                if receiver is not None:
                    self._by_ssrc[packet.ssrc] = receiver
                    return receiver
        receiver = self._by_ssrc.get(packet.ssrc)
        if receiver is not None:
            return receiver
        receiver = self._by_pt.get(packet.payload_type)
        if receiver is not None:
            self._by_ssrc[packet.ssrc] = receiver
        return receiver

    # ------------------------------------------------------------ output

    def send(self, datagrams: list[bytes]) -> None:
        """Protect plain RTP/RTCP from the cores (e.g. RtpMediaSender's ``send``) and queue it."""
        srtp = self.srtp
        if srtp is None:
            return  # not keyed yet: media before DTLS completes is dropped
        out = self._out
        for d in datagrams:
            out.append(srtp.protect_rtcp(d) if is_rtcp(d) else srtp.protect(d))

    def _cores(self) -> list[_Core]:
        return [*self.senders, *self._receivers, self.twcc]

    def timeout(self, now: float) -> None:
        for core in self._cores():
            t = core.next_timeout()
            if t is not None and t <= now:
                core.timeout(now)

    def next_timeout(self) -> float | None:
        times = [t for t in (c.next_timeout() for c in self._cores()) if t is not None]
        return min(times) if times else None

    def datagrams_to_send(self) -> list[bytes]:
        """Protected datagrams, ready for the ICE transport. Collects the cores' output too."""
        for core in self._cores():
            pending = core.packets_to_send()
            if pending:
                self.send(pending)
        out, self._out = self._out, []
        return out
