"""The sans-I/O RTP sender core: encoded frames in, RTP/RTCP datagrams out.

Payloads frames with the codec's payloader (RFC 7741, 7587, 6184), stamps the negotiated header
extensions (RFC 8285: mid, abs-send-time, transport-wide sequence number), keeps an RTX history
(RFC 4588), answers NACKs (RFC 4585), surfaces PLI/FIR (RFC 4585 6.3.1, RFC 5104 4.3.1) as key
frame requests, feeds receiver reports and REMB into the bandwidth estimator, measures the round
trip time from report blocks (RFC 3550 6.4.1) and emits SR + SDES every ``rtcp_interval``.
Outgoing datagrams are plain RTP/RTCP: the transport protects them (SRTP) before sending.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

from rtcpeer.rtp.bwe import BandwidthEstimator
from rtcpeer.rtp.codecs import RtpCodec, payloader_for
from rtcpeer.rtp.packet import (
    EXT_ABS_SEND_TIME,
    EXT_AUDIO_LEVEL,
    EXT_MID,
    EXT_TRANSPORT_CC,
    RtpPacket,
    encode_abs_send_time,
    encode_transport_cc_seq,
)
from rtcpeer.rtp.rtcp import (
    SDES_CNAME,
    Bye,
    Fir,
    Nack,
    Pli,
    ReceiverReport,
    Remb,
    RtcpPacket,
    SdesChunk,
    SenderReport,
    SourceDescription,
    TransportCc,
    serialize_rtcp,
)
from rtcpeer.rtp.rtx import RtxHistory
from rtcpeer.rtp.twcc import feedback_counts

__all__ = ["BitrateChanged", "KeyframeRequested", "RtpSenderCore", "ntp_timestamp"]

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def ntp_timestamp(unix_time: float) -> int:
    """64-bit NTP timestamp for a Unix time."""
    return int((unix_time + NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, slots=True)
class KeyframeRequested:
    reason: str  # "pli" | "fir"


@dataclass(frozen=True, slots=True)
class BitrateChanged:
    bitrate: int


SenderEvent = KeyframeRequested | BitrateChanged


class RtpSenderCore:
    """One outgoing RTP stream (one SSRC, plus its RTX SSRC).

    ``extensions`` maps header extension URIs to the negotiated ids. ``clock_offset`` turns the
    monotonic ``now`` into Unix time for SR NTP timestamps (the shell passes
    ``time.time() - time.monotonic()``). ``transport_sequence`` is a shared counter callable for
    the transport-wide sequence number (one per BUNDLE transport).
    """

    def __init__(
        self,
        codec: RtpCodec,
        ssrc: int,
        *,
        rtx_payload_type: int | None = None,
        rtx_ssrc: int | None = None,
        mid: str | None = None,
        extensions: dict[str, int] | None = None,
        cname: str = "rtcpeer",
        mtu: int = 1200,
        clock_offset: float = 0.0,
        transport_sequence: Callable[[], int] | None = None,
        bandwidth: BandwidthEstimator | None = None,
        rtcp_interval: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or random.Random()
        self.codec = codec
        self.ssrc = ssrc
        self.rtx_ssrc = rtx_ssrc
        self.mid = mid
        self.cname = cname
        self.max_payload = mtu - 12 - 16 - 20  # RTP header, SRTP tag, extensions
        self.clock_offset = clock_offset
        self.rtcp_interval = rtcp_interval
        self.payloader = payloader_for(codec.name)
        self.sequence = rng.randrange(0, 0x8000)
        self.timestamp_offset = rng.randrange(0, 1 << 32)
        self.history = RtxHistory(
            rtx_ssrc=rtx_ssrc,
            rtx_payload_type=rtx_payload_type,
            initial_sequence=rng.randrange(0, 0x8000),
        )
        ext = extensions or {}
        self._ext_mid = ext.get(EXT_MID)
        self._ext_abs = ext.get(EXT_ABS_SEND_TIME)
        self._ext_tcc = ext.get(EXT_TRANSPORT_CC) if transport_sequence else None
        self._ext_level = ext.get(EXT_AUDIO_LEVEL) if codec.kind == "audio" else None
        # RFC 6464 level (-dBov, 0..127) of the next frame, set by whoever feeds frames in.
        self.audio_level: int | None = None
        self._transport_sequence = transport_sequence
        self.bwe = bandwidth or BandwidthEstimator()
        self._last_bitrate = self.bwe.target_bitrate
        self._out: list[bytes] = []
        self._events: list[SenderEvent] = []
        self._next_report: float | None = None
        self._sr_sent: dict[int, float] = {}  # middle 32 bits of NTP -> monotonic send time
        self._last_rtp_timestamp: int | None = None
        self._last_frame_time = 0.0
        self.rtt: float | None = None
        self.packets_sent = 0
        self.octets_sent = 0
        self.nacks_received = 0
        self.keyframe_requests = 0
        self.plis_received = 0
        self.firs_received = 0
        self.frames_sent = 0
        self.remote_fraction_lost = 0
        self.remote_packets_lost = 0
        self.remote_jitter = 0
        self.stopped = False

    # ------------------------------------------------------------ media in

    def send_frame(self, frame: bytes, timestamp: int, now: float) -> None:
        """Packetize one encoded frame. ``timestamp`` is in the codec's clock (any origin);
        the core adds its random offset (RFC 3550 5.1)."""
        if self.stopped:
            return
        rtp_ts = (timestamp + self.timestamp_offset) & 0xFFFFFFFF
        self._last_rtp_timestamp = rtp_ts
        self._last_frame_time = now
        payloads = self.payloader.packetize(frame, self.max_payload)
        last = len(payloads) - 1
        self.frames_sent += 1
        exts = self._extensions(now)
        for i, payload in enumerate(payloads):
            if self._ext_tcc is not None and self._transport_sequence is not None:
                exts = dict(exts)
                exts[self._ext_tcc] = encode_transport_cc_seq(self._transport_sequence())
            packet = RtpPacket(
                payload_type=self.codec.payload_type,
                sequence_number=self.sequence,
                timestamp=rtp_ts,
                ssrc=self.ssrc,
                payload=payload,
                # video: marker on the last packet of a frame (RFC 3551 / 7741); Opus: no talk
                # spurts signalled (RFC 7587 4.1), so the marker stays clear.
                marker=(i == last) if self.codec.kind == "video" else False,
                extensions=exts,
            )
            self.sequence = (self.sequence + 1) & 0xFFFF
            self.history.store(packet)
            self._out.append(packet.serialize())
            self.packets_sent += 1
            self.octets_sent += len(payload)
        if self._next_report is None:
            self._next_report = now + min(0.5, self.rtcp_interval)

    def _extensions(self, now: float) -> dict[int, bytes]:
        exts: dict[int, bytes] = {}
        if self._ext_mid is not None and self.mid is not None:
            exts[self._ext_mid] = self.mid.encode()
        if self._ext_abs is not None:
            exts[self._ext_abs] = encode_abs_send_time(now + self.clock_offset + NTP_EPOCH_OFFSET)
        level = self.audio_level
        if self._ext_level is not None and level is not None:
            level = min(127, max(0, level))
            exts[self._ext_level] = bytes(((0x80 if level < 127 else 0) | level,))
        return exts

    @property
    def sends_audio_level(self) -> bool:
        """True when the RFC 6464 extension is negotiated (set ``audio_level`` per frame)."""
        return self._ext_level is not None

    # ------------------------------------------------------------ feedback in

    def receive_rtcp(self, packets: list[RtcpPacket], now: float) -> None:
        for p in packets:
            if isinstance(p, Nack):
                if p.media_ssrc == self.ssrc:
                    self.nacks_received += 1
                    for rtx in self.history.retransmit(p.lost, now):
                        if self._ext_tcc is not None and self._transport_sequence is not None:
                            # a retransmission is a new packet on the transport (own tcc seq)
                            exts = dict(rtx.extensions)
                            exts[self._ext_tcc] = encode_transport_cc_seq(
                                self._transport_sequence()
                            )
                            rtx = dataclasses.replace(rtx, extensions=exts)
                        self._out.append(rtx.serialize())
            elif isinstance(p, Pli):
                if p.media_ssrc == self.ssrc:
                    self.keyframe_requests += 1
                    self.plis_received += 1
                    self._events.append(KeyframeRequested("pli"))
            elif isinstance(p, Fir):
                if any(ssrc == self.ssrc for ssrc, _ in p.entries):
                    self.keyframe_requests += 1
                    self.firs_received += 1
                    self._events.append(KeyframeRequested("fir"))
            elif isinstance(p, TransportCc):
                received, lost = feedback_counts(p)
                self.bwe.on_transport_feedback(received, lost, now)
            elif isinstance(p, Remb):
                if not p.ssrcs or self.ssrc in p.ssrcs:
                    self.bwe.on_remb(p.bitrate, now)
            elif isinstance(p, (ReceiverReport, SenderReport)):
                for block in p.reports:
                    if block.ssrc != self.ssrc:
                        continue
                    self.bwe.on_receiver_report(block.fraction_lost, now)
                    self.remote_fraction_lost = block.fraction_lost
                    self.remote_packets_lost = block.packets_lost
                    self.remote_jitter = block.jitter
                    sent = self._sr_sent.get(block.lsr)
                    if block.lsr and sent is not None:
                        self.rtt = max(0.0, now - sent - block.dlsr / 65536.0)
        self._check_bitrate()

    def set_max_bitrate(self, bitrate: int | None) -> None:
        """RTCRtpEncodingParameters.maxBitrate: cap the estimator's target (None: no cap).
        A change of the target appears as a ``BitrateChanged`` event."""
        self.bwe.cap = None if bitrate is None else max(1000, int(bitrate))
        self._check_bitrate()

    def _check_bitrate(self) -> None:
        bitrate = self.bwe.target_bitrate
        if bitrate != self._last_bitrate:
            self._last_bitrate = bitrate
            self._events.append(BitrateChanged(bitrate))

    # ------------------------------------------------------------ timers and output

    def timeout(self, now: float) -> None:
        if self._next_report is not None and now >= self._next_report:
            self._out.append(self.build_report(now))
            self._next_report = now + self.rtcp_interval

    def next_timeout(self) -> float | None:
        return self._next_report

    def build_report(self, now: float) -> bytes:
        """An SR + SDES(CNAME) compound packet (RFC 3550 6.4.1, 6.5.1)."""
        ntp = ntp_timestamp(now + self.clock_offset)
        rtp_ts = 0
        if self._last_rtp_timestamp is not None:
            elapsed = now - self._last_frame_time
            rtp_ts = (self._last_rtp_timestamp + int(elapsed * self.codec.clock_rate)) & 0xFFFFFFFF
        middle = (ntp >> 16) & 0xFFFFFFFF
        self._sr_sent[middle] = now
        if len(self._sr_sent) > 16:
            del self._sr_sent[next(iter(self._sr_sent))]
        return serialize_rtcp(
            [
                SenderReport(
                    self.ssrc,
                    ntp,
                    rtp_ts,
                    self.packets_sent & 0xFFFFFFFF,
                    self.octets_sent & 0xFFFFFFFF,
                ),
                SourceDescription([SdesChunk(self.ssrc, [(SDES_CNAME, self.cname.encode())])]),
            ]
        )

    def stats(self) -> dict[str, dict[str, object]]:
        """W3C webrtc-stats dictionaries: "outbound-rtp" and, once a report block arrived,
        "remote-inbound-rtp" (keys are the stats type; the caller adds id/timestamp)."""
        out: dict[str, dict[str, object]] = {
            "outbound-rtp": {
                "type": "outbound-rtp",
                "kind": self.codec.kind,
                "ssrc": self.ssrc,
                "mid": self.mid,
                "packetsSent": self.packets_sent,
                "bytesSent": self.octets_sent,
                "retransmittedPacketsSent": self.history.retransmitted,
                "nackCount": self.nacks_received,
                "pliCount": self.plis_received,
                "firCount": self.firs_received,
                "targetBitrate": self.bwe.target_bitrate,
                "framesSent": self.frames_sent,
                **({"rtxSsrc": self.rtx_ssrc} if self.rtx_ssrc is not None else {}),
            }
        }
        if self.rtt is not None or self.remote_fraction_lost or self.remote_packets_lost:
            out["remote-inbound-rtp"] = {
                "type": "remote-inbound-rtp",
                "kind": self.codec.kind,
                "ssrc": self.ssrc,
                "packetsLost": self.remote_packets_lost,
                "fractionLost": self.remote_fraction_lost / 256.0,
                "jitter": self.remote_jitter / self.codec.clock_rate,
                **({"roundTripTime": self.rtt} if self.rtt is not None else {}),
            }
        return out

    def packets_to_send(self) -> list[bytes]:
        """Plain RTP and RTCP datagrams (tell them apart with ``packet.is_rtcp``)."""
        out, self._out = self._out, []
        return out

    def events(self) -> list[SenderEvent]:
        out, self._events = self._events, []
        return out

    def stop(self) -> bytes:
        """Stop sending; returns the BYE compound packet to send (RFC 3550 6.6)."""
        self.stopped = True
        self._next_report = None
        ssrcs = [self.ssrc] + ([self.rtx_ssrc] if self.rtx_ssrc is not None else [])
        return serialize_rtcp([ReceiverReport(self.ssrc), Bye(ssrcs)])
