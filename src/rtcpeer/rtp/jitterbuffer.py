"""Receive-side reordering, frame assembly, loss detection and NACK scheduling.

Sequence numbers are extended to 64-bit counters (RFC 3550 appendix A.1). A frame is the
contiguous run of packets sharing an RTP timestamp; it is complete at its marker bit or when the
next packet carries a new timestamp (audio: every packet is a frame). Missing packets are NACKed
(RFC 4585 section 6.2.1) after ``reorder_delay`` and then every ``rtt`` until they arrive, the
retry budget runs out, or the gap has waited ``max_delay``: then the buffer skips past it and
flags the next frame with ``discontinuity`` so video receivers can ask for a key frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtcpeer.rtp.packet import RtpPacket

__all__ = ["Frame", "JitterBuffer"]


@dataclass(slots=True)
class Frame:
    timestamp: int
    first_sequence: int  # extended sequence number of the first packet
    payloads: list[bytes]
    discontinuity: bool  # packets were skipped before this frame


@dataclass(slots=True)
class _Missing:
    first_seen: float
    last_sent: float | None = None
    sent: int = 0


class JitterBuffer:
    def __init__(
        self,
        *,
        video: bool = True,
        max_delay: float = 0.5,
        nack: bool = True,
        reorder_delay: float = 0.005,
        max_nacks: int = 10,
        max_packets: int = 2000,
    ) -> None:
        self.video = video
        self.max_delay = max_delay
        self.nack_enabled = nack
        self.reorder_delay = reorder_delay
        self.max_nacks = max_nacks
        self.max_packets = max_packets
        self.rtt = 0.1
        self._packets: dict[int, RtpPacket] = {}
        self._missing: dict[int, _Missing] = {}
        self._next: int | None = None
        self._highest = -1
        self._gap_since: float | None = None
        # nothing vouches for what preceded the first packet (it may have been reordered
        # behind it), so the first frame is flagged too
        self._discontinuity = True
        self._ready: list[Frame] = []
        # statistics
        self.duplicates = 0
        self.late = 0
        self.skipped = 0
        self.nacks_sent = 0

    # ------------------------------------------------------------ input

    def extend(self, seq: int) -> int:
        """The extended sequence number nearest to the highest one seen."""
        if self._highest < 0:
            return seq + 0x10000  # room below the first packet for reordered predecessors
        base = self._highest & ~0xFFFF
        ext = base | seq
        if ext - self._highest > 0x8000:
            ext -= 0x10000
        elif self._highest - ext > 0x8000:
            ext += 0x10000
        return ext

    def insert(self, packet: RtpPacket, now: float) -> int:
        """Add one packet; returns its extended sequence number."""
        ext = self.extend(packet.sequence_number)
        if self._next is None:
            self._next = ext
            self._highest = ext
        elif ext < self._next:
            self.late += 1
            self._missing.pop(ext, None)
            return ext
        elif ext in self._packets:
            self.duplicates += 1
            return ext
        if ext > self._highest:
            if ext - self._highest > self.max_packets:
                self._reset(ext)
            elif self.nack_enabled:
                for s in range(self._highest + 1, ext):
                    self._missing[s] = _Missing(now)
            self._highest = ext
        else:
            self._missing.pop(ext, None)
        self._packets[ext] = packet
        self._assemble(now)
        if self._gap_since is not None and now - self._gap_since >= self.max_delay:
            self._skip(now)
        return ext

    def _reset(self, ext: int) -> None:
        self.skipped += len(self._packets)
        self._packets.clear()
        self._missing.clear()
        self._next = ext
        self._gap_since = None
        self._discontinuity = True

    # ------------------------------------------------------------ output

    def pop_frames(self) -> list[Frame]:
        out, self._ready = self._ready, []
        return out

    def _assemble(self, now: float) -> None:
        packets = self._packets
        while packets:
            start = self._next
            assert start is not None
            first = packets.get(start)
            if first is None:
                if self._gap_since is None:
                    self._gap_since = now
                return
            if not first.payload:
                # padding-only packet (bandwidth probing): keeps the sequence, carries no media
                del packets[start]
                self._next = start + 1
                self._gap_since = None
                continue
            end = start
            if self.video:
                ts = first.timestamp
                while not packets[end].marker:
                    nxt = packets.get(end + 1)
                    if nxt is None:
                        return  # frame still incomplete
                    if nxt.timestamp != ts:
                        break
                    end += 1
            payloads = [packets.pop(s).payload for s in range(start, end + 1)]
            self._ready.append(Frame(first.timestamp, start, payloads, self._discontinuity))
            self._discontinuity = False
            self._gap_since = None
            self._next = end + 1

    def _skip(self, now: float) -> None:
        if not self._packets:
            return
        new_next = min(self._packets)
        assert self._next is not None
        self.skipped += new_next - self._next
        for s in [s for s in self._missing if s < new_next]:
            del self._missing[s]
        self._next = new_next
        self._gap_since = None
        self._discontinuity = True
        self._assemble(now)

    # ------------------------------------------------------------ timers

    def timeout(self, now: float) -> None:
        if self._gap_since is not None and now - self._gap_since >= self.max_delay:
            self._skip(now)
        elif len(self._packets) > self.max_packets:
            self._skip(now)

    def next_timeout(self) -> float | None:
        times: list[float] = []
        if self._gap_since is not None:
            times.append(self._gap_since + self.max_delay)
        for m in self._missing.values():
            if m.sent >= self.max_nacks:
                continue
            if m.last_sent is None:
                times.append(m.first_seen + self.reorder_delay)
            else:
                times.append(m.last_sent + self._retry_interval())
        return min(times) if times else None

    def _retry_interval(self) -> float:
        return max(self.rtt * 1.2, 0.02)

    def nacks(self, now: float) -> list[int]:
        """Sequence numbers (16-bit) to NACK now, oldest first."""
        if not self._missing:
            return []
        out: list[int] = []
        retry = self._retry_interval()
        expired: list[int] = []
        for ext in sorted(self._missing):
            m = self._missing[ext]
            if m.sent >= self.max_nacks:
                expired.append(ext)
                continue
            due = m.first_seen + self.reorder_delay if m.last_sent is None else m.last_sent + retry
            if now >= due:
                m.last_sent = now
                m.sent += 1
                out.append(ext & 0xFFFF)
        for ext in expired:
            del self._missing[ext]
        self.nacks_sent += len(out)
        return out

    @property
    def missing(self) -> int:
        return len(self._missing)

    @property
    def buffered(self) -> int:
        return len(self._packets)
