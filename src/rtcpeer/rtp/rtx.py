"""Retransmission: a send-side packet history and RTX encapsulation (RFC 4588 section 4).

An RTX packet carries the original sequence number (OSN) in the first two payload bytes, on its
own SSRC and sequence space, with the RTX payload type associated (apt) with the original one.
Without negotiated RTX the original packet is resent as-is (RFC 4585 NACK repair).
"""

from __future__ import annotations

from rtcpeer.rtp.packet import ParseError, RtpPacket

__all__ = ["RtxHistory", "unwrap_rtx"]


class RtxHistory:
    """Remembers the last ``size`` packets sent on one SSRC and builds retransmissions."""

    def __init__(
        self,
        size: int = 1024,
        rtx_ssrc: int | None = None,
        rtx_payload_type: int | None = None,
        initial_sequence: int = 0,
        min_interval: float = 0.01,
    ) -> None:
        self.size = size
        self.rtx_ssrc = rtx_ssrc
        self.rtx_payload_type = rtx_payload_type
        self.sequence = initial_sequence & 0xFFFF
        self.min_interval = min_interval
        self._slots: list[RtpPacket | None] = [None] * size
        self._resent_at: dict[int, float] = {}
        self.retransmitted = 0
        self.unavailable = 0

    def store(self, packet: RtpPacket) -> None:
        self._slots[packet.sequence_number % self.size] = packet
        self._resent_at.pop(packet.sequence_number, None)

    def retransmit(self, seqs: list[int], now: float) -> list[RtpPacket]:
        out: list[RtpPacket] = []
        for seq in seqs:
            orig = self._slots[seq % self.size]
            if orig is None or orig.sequence_number != seq:
                self.unavailable += 1
                continue
            last = self._resent_at.get(seq)
            if last is not None and now - last < self.min_interval:
                continue  # a burst of NACKs for the same loss: one repair is enough
            self._resent_at[seq] = now
            if self.rtx_ssrc is None or self.rtx_payload_type is None:
                out.append(orig)
            else:
                out.append(
                    RtpPacket(
                        payload_type=self.rtx_payload_type,
                        sequence_number=self.sequence,
                        timestamp=orig.timestamp,
                        ssrc=self.rtx_ssrc,
                        payload=seq.to_bytes(2, "big") + orig.payload,
                        marker=orig.marker,
                        extensions=orig.extensions,
                    )
                )
                self.sequence = (self.sequence + 1) & 0xFFFF
            self.retransmitted += 1
        if len(self._resent_at) > 4 * self.size:
            self._resent_at.clear()
        return out


def unwrap_rtx(packet: RtpPacket, payload_type: int, ssrc: int) -> RtpPacket:
    """The original packet inside an RTX packet; ``payload_type``/``ssrc`` are the primary
    stream's (from apt and the SSRC group). Raises ParseError when the OSN is missing."""
    if len(packet.payload) < 2:
        raise ParseError("RTX payload too short for the original sequence number")
    return RtpPacket(
        payload_type=payload_type,
        sequence_number=(packet.payload[0] << 8) | packet.payload[1],
        timestamp=packet.timestamp,
        ssrc=ssrc,
        payload=packet.payload[2:],
        marker=packet.marker,
        extensions=packet.extensions,
    )
