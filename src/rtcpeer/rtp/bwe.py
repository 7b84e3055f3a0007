"""A simple send-side bandwidth estimator.

Loss-based control in the spirit of draft-ietf-rmcat-gcc section 6: above 10 % loss the target
falls by half the loss fraction, below 2 % it grows by 8 % per report; REMB
(draft-alvestrand-rmcat-remb) caps the target; transport-wide feedback is reduced to a loss
fraction and treated like a receiver report. Delay-based estimation is left out on purpose.
"""

from __future__ import annotations

__all__ = ["BandwidthEstimator"]


class BandwidthEstimator:
    def __init__(
        self,
        initial: int = 1_000_000,
        minimum: int = 50_000,
        maximum: int = 2_500_000,
        increase_interval: float = 0.5,
    ) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.increase_interval = increase_interval
        self._target = float(initial)
        self._remb: int | None = None
        self._last_increase: float | None = None
        self.loss = 0.0
        # RTCRtpEncodingParameters.maxBitrate (setParameters): a hard cap, even below minimum.
        self.cap: int | None = None

    @property
    def target_bitrate(self) -> int:
        cap = self.maximum if self._remb is None else min(self.maximum, self._remb)
        target = int(max(self.minimum, min(cap, self._target)))
        return target if self.cap is None else min(self.cap, target)

    def on_loss(self, fraction: float, now: float) -> None:
        """A loss report: ``fraction`` of packets lost in 0..1."""
        self.loss = fraction
        if fraction > 0.10:
            self._target = max(self.minimum, self._target * (1.0 - 0.5 * fraction))
        elif fraction < 0.02:
            if self._last_increase is None or now - self._last_increase >= self.increase_interval:
                self._last_increase = now
                self._target = min(self.maximum, self._target * 1.08 + 1000)
        cap = self._remb
        if cap is not None and self._target > cap:
            self._target = float(cap)

    def on_receiver_report(self, fraction_lost: int, now: float) -> None:
        """RFC 3550 fraction lost (0..255, out of 256)."""
        self.on_loss(fraction_lost / 256.0, now)

    def on_remb(self, bitrate: int, now: float) -> None:
        self._remb = max(self.minimum, bitrate)
        if self._target > self._remb:
            self._target = float(self._remb)

    def on_transport_feedback(self, received: int, lost: int, now: float) -> None:
        total = received + lost
        if total:
            self.on_loss(lost / total, now)
