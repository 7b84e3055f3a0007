"""The sans-I/O RTP receiver core: RTP/RTCP in, encoded frames and feedback out.

Unwraps RTX (RFC 4588), reorders and assembles frames in the jitter buffer, NACKs losses
(RFC 4585 6.2.1), keeps the RFC 3550 appendix A.3/A.8 reception statistics for receiver reports
(sent every ``rtcp_interval``), asks for key frames with PLI (RFC 4585 6.3.1) when video frames
were lost or cannot be decoded, and optionally reports an estimate with REMB. Frames come out
depayloaded, in order, ready for a decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtcpeer.rtp.codecs import RtpCodec, depayloader_for
from rtcpeer.rtp.jitterbuffer import JitterBuffer
from rtcpeer.rtp.packet import ParseError, RtpPacket
from rtcpeer.rtp.rtcp import (
    Bye,
    Nack,
    Pli,
    ReceiverReport,
    Remb,
    ReportBlock,
    RtcpPacket,
    SenderReport,
    serialize_rtcp,
)
from rtcpeer.rtp.rtx import unwrap_rtx

__all__ = ["EncodedFrame", "RemoteBye", "RtpReceiverCore"]


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    data: bytes
    timestamp: int  # RTP timestamp (codec clock)
    keyframe: bool


@dataclass(frozen=True, slots=True)
class RemoteBye:
    ssrc: int


class RtpReceiverCore:
    """One incoming RTP stream. ``ssrc`` may be None: the first packet's SSRC is adopted."""

    def __init__(
        self,
        codec: RtpCodec,
        *,
        ssrc: int | None = None,
        rtx_payload_type: int | None = None,
        local_ssrc: int = 1,
        nack: bool = True,
        pli: bool = True,
        remb_bitrate: int | None = None,
        max_delay: float | None = None,
        rtcp_interval: float = 1.0,
        pli_interval: float = 0.5,
        audio_level_id: int | None = None,
    ) -> None:
        self.codec = codec
        # RTCRtpSynchronizationSource / RTCRtpContributingSource (webrtc-pc 5.3.1): the last
        # primary packet's RTP timestamp, its RFC 6464 level (-dBov) and arrival time; CSRCs
        # (RFC 3550 contributing sources) map to (arrival time, RTP timestamp).
        self.audio_level_id = audio_level_id if codec.kind == "audio" else None
        self.last_rtp_timestamp: int | None = None
        self.last_audio_level: int | None = None
        self.contributing_sources: dict[int, tuple[float, int]] = {}
        # payload type of the last packet of another codec (not ours, not our RTX)
        self.other_payload_type: int | None = None
        self.video = codec.kind == "video"
        self.ssrc = ssrc
        self.rtx_payload_type = rtx_payload_type
        self.local_ssrc = local_ssrc
        self.pli_enabled = pli and self.video
        self.remb_bitrate = remb_bitrate
        self.rtcp_interval = rtcp_interval
        self.pli_interval = pli_interval
        self.depayloader = depayloader_for(codec.name)
        if max_delay is None:
            max_delay = 0.5 if self.video else 0.1
        self.jitter_buffer = JitterBuffer(
            video=self.video, max_delay=max_delay, nack=nack and self.video
        )
        self._frames: list[EncodedFrame] = []
        self._out: list[bytes] = []
        self._events: list[RemoteBye] = []
        self._need_keyframe = self.video
        self._last_pli: float | None = None
        self._pli_pending = False
        self._next_report: float | None = None
        # RFC 3550 A.3 / A.8 statistics
        self._base_ext: int | None = None
        self._max_ext = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0
        self._last_transit: float | None = None
        self._last_sr: int = 0
        self._last_sr_time: float | None = None
        self.frames_received = 0
        self.frames_dropped = 0
        self.packets_received = 0
        self.rtx_received = 0
        self.plis_sent = 0
        self.bytes_received = 0
        self.last_packet_time: float | None = None

    # ------------------------------------------------------------ input

    def receive_rtp(self, packet: RtpPacket, now: float) -> None:
        if self.rtx_payload_type is not None and packet.payload_type == self.rtx_payload_type:
            if self.ssrc is None:
                return
            try:
                packet = unwrap_rtx(packet, self.codec.payload_type, self.ssrc)
            except ParseError:
                return
            self.rtx_received += 1
            dups = self.jitter_buffer.duplicates + self.jitter_buffer.late
            self.jitter_buffer.insert(packet, now)
            if self.jitter_buffer.duplicates + self.jitter_buffer.late == dups:
                # a repaired loss counts as received (no jitter sample: it is late on purpose)
                self._received += 1
        else:
            if packet.payload_type != self.codec.payload_type:
                # another codec on this stream: the owner may switch decoders
                self.other_payload_type = packet.payload_type
                return
            if self.ssrc is None:
                self.ssrc = packet.ssrc
            elif packet.ssrc != self.ssrc:
                return
            self.packets_received += 1
            self.bytes_received += len(packet.payload)
            self.last_packet_time = now
            self.last_rtp_timestamp = packet.timestamp
            if self.audio_level_id is not None:
                level = packet.extensions.get(self.audio_level_id)
                self.last_audio_level = level[0] & 0x7F if level else None
            if packet.csrcs:
                for csrc in packet.csrcs:
                    self.contributing_sources[csrc] = (now, packet.timestamp)
            ext = self.jitter_buffer.insert(packet, now)
            self._update_stats(packet, ext, now)
        if self._next_report is None:
            self._next_report = now + min(0.5, self.rtcp_interval)
        self._drain(now)

    def _update_stats(self, packet: RtpPacket, ext: int, now: float) -> None:
        if self._base_ext is None:
            self._base_ext = ext
            self._max_ext = ext
        elif ext > self._max_ext:
            self._max_ext = ext
        self._received += 1
        transit = now * self.codec.clock_rate - packet.timestamp
        if self._last_transit is not None:
            d = abs(transit - self._last_transit)
            if d < self.codec.clock_rate * 10:  # ignore timestamp jumps
                self._jitter += (d - self._jitter) / 16.0
        self._last_transit = transit

    def _drain(self, now: float) -> None:
        for frame in self.jitter_buffer.pop_frames():
            keyframe = self.depayloader.is_keyframe(frame.payloads[0])
            if frame.discontinuity and self.video and not keyframe:
                self._need_keyframe = True
            if self._need_keyframe and self.video:
                if not keyframe:
                    self.frames_dropped += 1
                    self._want_keyframe(now)
                    continue
                self._need_keyframe = False
            try:
                data = self.depayloader.depacketize(frame.payloads)
            except ParseError:
                self.frames_dropped += 1
                if self.video:
                    self._need_keyframe = True
                    self._want_keyframe(now)
                continue
            self.frames_received += 1
            self._frames.append(EncodedFrame(data, frame.timestamp, keyframe))

    def _want_keyframe(self, now: float) -> None:
        if not self.pli_enabled:
            return
        if self._last_pli is None or now - self._last_pli >= self.pli_interval:
            self._send_pli(now)
        else:
            self._pli_pending = True

    def _send_pli(self, now: float) -> None:
        if self.ssrc is None:
            return
        self._last_pli = now
        self._pli_pending = False
        self.plis_sent += 1
        self._out.append(serialize_rtcp([self._rr(now), Pli(self.local_ssrc, self.ssrc)]))

    def request_keyframe(self, now: float) -> None:
        """The decoder failed: drop frames until a key frame and ask for one."""
        if self.video:
            self._need_keyframe = True
            self._want_keyframe(now)

    def receive_rtcp(self, packets: list[RtcpPacket], now: float) -> None:
        for p in packets:
            if isinstance(p, SenderReport) and p.ssrc == self.ssrc:
                self._last_sr = (p.ntp_timestamp >> 16) & 0xFFFFFFFF
                self._last_sr_time = now
            elif isinstance(p, Bye) and self.ssrc in p.ssrcs and self.ssrc is not None:
                self._events.append(RemoteBye(self.ssrc))

    # ------------------------------------------------------------ output

    def frames(self) -> list[EncodedFrame]:
        out, self._frames = self._frames, []
        return out

    def packets_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def events(self) -> list[RemoteBye]:
        out, self._events = self._events, []
        return out

    def timeout(self, now: float) -> None:
        jb = self.jitter_buffer
        jb.timeout(now)
        self._drain(now)
        lost = jb.nacks(now)
        if lost and self.ssrc is not None:
            self._out.append(
                serialize_rtcp([self._rr(now), Nack(self.local_ssrc, self.ssrc, lost)])
            )
        if self._pli_pending and self._last_pli is not None:
            if now - self._last_pli >= self.pli_interval:
                self._send_pli(now)
        if self._next_report is not None and now >= self._next_report:
            self._next_report = now + self.rtcp_interval
            pkts: list[RtcpPacket] = [self._rr(now, update=True)]
            if self.remb_bitrate is not None and self.ssrc is not None:
                pkts.append(Remb(self.local_ssrc, self.remb_bitrate, [self.ssrc]))
            self._out.append(serialize_rtcp(pkts))

    def next_timeout(self) -> float | None:
        times = [t for t in (self.jitter_buffer.next_timeout(), self._next_report) if t is not None]
        if self._pli_pending and self._last_pli is not None:
            times.append(self._last_pli + self.pli_interval)
        return min(times) if times else None

    def _rr(self, now: float, update: bool = False) -> ReceiverReport:
        if self.ssrc is None or self._base_ext is None:
            return ReceiverReport(self.local_ssrc)
        expected = self._max_ext - self._base_ext + 1
        lost = expected - self._received
        exp_int = expected - self._expected_prior
        rec_int = self._received - self._received_prior
        lost_int = exp_int - rec_int
        fraction = 0 if exp_int <= 0 or lost_int <= 0 else min(255, (lost_int << 8) // exp_int)
        if update:
            self._expected_prior = expected
            self._received_prior = self._received
        dlsr = 0
        if self._last_sr_time is not None:
            dlsr = int((now - self._last_sr_time) * 65536) & 0xFFFFFFFF
        lost = max(-(1 << 23), min((1 << 23) - 1, lost))
        block = ReportBlock(
            self.ssrc,
            fraction,
            lost,
            max(0, self._max_ext - 0x10000) & 0xFFFFFFFF,  # the buffer starts at cycle 1
            int(self._jitter),
            self._last_sr,
            dlsr,
        )
        return ReceiverReport(self.local_ssrc, [block])

    def stats(self) -> dict[str, object]:
        """The W3C webrtc-stats "inbound-rtp" dictionary (the caller adds id/timestamp and
        decoder-side counters such as framesDecoded)."""
        expected = 0 if self._base_ext is None else self._max_ext - self._base_ext + 1
        return {
            "type": "inbound-rtp",
            "kind": self.codec.kind,
            "ssrc": self.ssrc,
            "packetsReceived": self.packets_received,
            "bytesReceived": self.bytes_received,
            "packetsLost": expected - self._received,
            "jitter": self._jitter / self.codec.clock_rate,
            "nackCount": self.jitter_buffer.nacks_sent,
            "pliCount": self.plis_sent,
            "retransmittedPacketsReceived": self.rtx_received,
            "framesReceived": self.frames_received,
            "framesDropped": self.frames_dropped,
            **(
                {"lastPacketReceivedTimestamp": self.last_packet_time}
                if self.last_packet_time is not None
                else {}
            ),
        }

    @property
    def fraction_lost(self) -> int:
        return self._rr(0.0).reports[0].fraction_lost if self._base_ext is not None else 0
