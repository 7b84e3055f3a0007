"""Transport-wide congestion control feedback, receive side
(draft-holmer-rmcat-transport-wide-cc-extensions-01 sections 3 and 3.1).

One ``TransportFeedbackBuilder`` per BUNDLE transport records the transport-wide sequence number
and arrival time of every incoming RTP packet that carries the extension and emits
``TransportCc`` feedback every ``interval`` seconds. ``feedback_counts`` reduces feedback to
(received, lost) for the send-side estimator.
"""

from __future__ import annotations

from rtcpeer.rtp.rtcp import TransportCc, serialize_rtcp

__all__ = ["TransportFeedbackBuilder", "feedback_counts"]

_TICK = 0.00025  # receive delta unit: 250 us
_REF = 0.064  # reference time unit: 64 ms


def feedback_counts(fb: TransportCc) -> tuple[int, int]:
    """(received, lost) packets described by one feedback message."""
    lost = sum(1 for s in fb.statuses if s == 0)
    return len(fb.statuses) - lost, lost


class TransportFeedbackBuilder:
    def __init__(
        self, sender_ssrc: int, interval: float = 0.1, max_packets_per_feedback: int = 500
    ) -> None:
        self.sender_ssrc = sender_ssrc
        self.media_ssrc = 0
        self.interval = interval
        self.max_packets = max_packets_per_feedback
        self._arrivals: dict[int, float] = {}
        self._highest = -1
        self._next_base: int | None = None  # first sequence not yet reported
        self._epoch: float | None = None
        self._count = 0
        self._next_send: float | None = None
        self._out: list[bytes] = []

    def _extend(self, seq: int) -> int:
        if self._highest < 0:
            return seq + 0x10000
        ext = (self._highest & ~0xFFFF) | seq
        if ext - self._highest > 0x8000:
            ext -= 0x10000
        elif self._highest - ext > 0x8000:
            ext += 0x10000
        return ext

    def on_packet(self, transport_seq: int, media_ssrc: int, now: float) -> None:
        ext = self._extend(transport_seq)
        if self._epoch is None:
            self._epoch = now
        if self._next_base is None:
            self._next_base = ext
        if ext < self._next_base:
            return  # already reported (as lost): too late to matter
        self._highest = max(self._highest, ext)
        self._arrivals[ext] = now - self._epoch
        self.media_ssrc = media_ssrc
        if self._next_send is None:
            self._next_send = now + self.interval
        if len(self._arrivals) >= self.max_packets:
            self._emit()

    def timeout(self, now: float) -> None:
        if self._next_send is not None and now >= self._next_send:
            self._emit()
            self._next_send = now + self.interval if self._arrivals else None

    def next_timeout(self) -> float | None:
        return self._next_send

    def _emit(self) -> None:
        while self._arrivals and self._next_base is not None:
            base = self._next_base
            end = min(self._highest, base + self.max_packets - 1)
            first_time = min(t for s, t in self._arrivals.items() if s <= end)
            ref = int(first_time / _REF)
            prev = ref * _REF
            statuses: list[int] = []
            deltas: list[int] = []
            for seq in range(base, end + 1):
                t = self._arrivals.pop(seq, None)
                if t is None:
                    statuses.append(0)
                    continue
                ticks = round((t - prev) / _TICK)
                if 0 <= ticks <= 255:
                    statuses.append(1)
                else:
                    ticks = max(-32768, min(32767, ticks))
                    statuses.append(2)
                deltas.append(ticks)
                prev += ticks * _TICK
            fb = TransportCc(
                self.sender_ssrc,
                self.media_ssrc,
                base & 0xFFFF,
                ((ref + 0x800000) & 0xFFFFFF) - 0x800000,  # signed 24-bit, wrapping
                self._count & 0xFF,
                statuses,
                deltas,
            )
            self._count += 1
            self._out.append(serialize_rtcp([fb]))
            self._next_base = end + 1

    def packets_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out
