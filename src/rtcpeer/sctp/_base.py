"""Shared state of the sans-I/O SCTP association: constants, records and the base class.

:class:`AssociationBase` owns every attribute of an association; the protocol parts live in
mixins (:mod:`~rtcpeer.sctp.handshake`, :mod:`~rtcpeer.sctp.sender`,
:mod:`~rtcpeer.sctp.receiver`, :mod:`~rtcpeer.sctp.reconfig`) combined by
:class:`rtcpeer.sctp.association.Association`. Methods one mixin calls in another are declared
here so that each module type-checks on its own.
"""

from __future__ import annotations

import logging
import random
import struct
from collections import deque
from dataclasses import dataclass

from google_crc32c import _crc32c as _crc

from rtcpeer.sctp.chunks import (
    FLAG_UNORDERED,
    ChunkType,
    OutgoingSsnResetRequest,
    ReconfigResponse,
)
from rtcpeer.sctp.events import (
    AssociationState,
    Closed,
    Event,
)

logger = logging.getLogger("rtcpeer.sctp.association")

_M32 = 0xFFFFFFFF
_HALF = 0x80000000
_HDR = struct.Struct("!HHI")
_CRC = struct.Struct("<I")
_DATA_HDR = struct.Struct("!BBHIHHI")
_IDATA_HDR = struct.Struct("!BBHIHHII")
_IDATA_FIELDS = struct.Struct("!IHHII")
_DATA_FIELDS = struct.Struct("!IHHI")
_SACK_HDR = struct.Struct("!BBHIIHH")
_U16x2 = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_ZERO4 = b"\x00\x00\x00\x00"
_COOKIE = struct.Struct("!dIIIHHIIBIII")  # ... tie tags, lifetime extension (ms)
_COOKIE_MAC = 16
_HB_INFO = struct.Struct("!dQ")
_PROBE_INFO = struct.Struct("!dQI")  # sent_at, nonce, probed packet size
_DATA = ChunkType.DATA
_SACK = ChunkType.SACK


_S = AssociationState
_SENDING_STATES = frozenset({_S.ESTABLISHED, _S.SHUTDOWN_PENDING, _S.SHUTDOWN_RECEIVED})
_RECEIVING_STATES = frozenset(
    {_S.ESTABLISHED, _S.SHUTDOWN_PENDING, _S.SHUTDOWN_SENT, _S.COOKIE_ECHOED}
)


# --- internal records ------------------------------------------------------------------------


class _OutMsg:
    """A message queued for sending; fragments are cut from ``data`` as packets are built."""

    __slots__ = (
        "sid",
        "ppid",
        "data",
        "offset",
        "flags",
        "max_rtx",
        "expires",
        "ssn",
        "first_tsn",
        "last_tsn",
        "abandoned",
        "fsn",
    )

    def __init__(
        self,
        sid: int,
        ppid: int,
        data: bytes,
        unordered: bool,
        max_rtx: int | None,
        expires: float | None,
    ) -> None:
        self.sid = sid
        self.ppid = ppid
        self.data = data
        self.offset = 0
        self.flags = FLAG_UNORDERED if unordered else 0
        self.max_rtx = max_rtx
        self.expires = expires
        self.ssn = 0
        self.first_tsn = -1
        self.last_tsn = -1
        self.abandoned = False
        self.fsn = 0  # next I-DATA fragment sequence number


class _Out:
    """One DATA chunk that has a TSN (sent at least once, not yet cumulatively acked)."""

    __slots__ = (
        "tsn",
        "flags",
        "msg",
        "data",
        "size",
        "sent_at",
        "rtx_count",
        "acked",
        "misses",
        "in_flight",
        "needs_rtx",
        "abandoned",
        "fast_rtx",
        "fsn",
    )

    def __init__(
        self, tsn: int, flags: int, msg: _OutMsg, data: bytes | memoryview, now: float
    ) -> None:
        self.tsn = tsn
        self.fsn = 0  # I-DATA fragment sequence number
        self.flags = flags
        self.msg = msg
        self.data = data
        self.size = len(data)
        self.sent_at = now
        self.rtx_count = 0
        self.acked = False
        self.misses = 0
        self.in_flight = True
        self.needs_rtx = False
        self.abandoned = False
        self.fast_rtx = False


class _Partial:
    """A message being reassembled; keyed in ``_partials`` by the next TSN it expects."""

    __slots__ = ("first_tsn", "sid", "ssn", "ppid", "unordered", "parts", "size", "oversized")

    def __init__(self, tsn: int, sid: int, ssn: int, ppid: int, unordered: bool) -> None:
        self.first_tsn = tsn
        self.sid = sid
        self.ssn = ssn
        self.ppid = ppid
        self.unordered = unordered
        self.parts: list[bytes] = []
        self.size = 0
        self.oversized = False


@dataclass(slots=True)
class _Cookie:
    created: float
    peer_tag: int
    peer_initial_tsn: int
    peer_rwnd: int
    out_streams: int
    in_streams: int
    local_tag: int
    local_initial_tsn: int
    peer_flags: int
    local_tie_tag: int
    peer_tie_tag: int
    extra_ms: int = 0  # granted Cookie Preservative (RFC 9260 5.2.6, 3.3.2.1)


_PEER_FWD_TSN = 1
_PEER_RECONFIG = 2
_PEER_IDATA = 4
_IDATA_MARK = 0x100  # in deferred chunk flags: an I-DATA chunk (ssn field holds the MID)
_IPARTIAL_COST = 64  # bookkeeping bytes charged per I-DATA partial message against limits


class _IPartial:
    """An I-DATA message being reassembled (RFC 8260): fragments by FSN, any order."""

    __slots__ = ("sid", "unordered", "mid", "ppid", "frags", "last_fsn", "size")

    def __init__(self, sid: int, unordered: bool, mid: int) -> None:
        self.sid = sid
        self.unordered = unordered
        self.mid = mid
        self.ppid = -1  # known once the first fragment (B bit, FSN 0) arrives
        self.frags: dict[int, bytes] = {}
        self.last_fsn = -1  # known once the last fragment (E bit) arrives
        self.size = 0


class AssociationBase:
    """State shared by the association mixins (see the module docstring)."""

    def __init__(
        self,
        is_client: bool,
        local_port: int = 5000,
        remote_port: int = 5000,
        *,
        mtu: int = 1200,
        max_message_size: int = 16 * 1024 * 1024 + 1024,
        receive_window: int = 4 * 1024 * 1024,
        streams: int = 65535,
        rto_initial: float = 1.0,
        rto_min: float = 0.2,
        rto_max: float = 60.0,
        max_retransmissions: int = 10,
        max_init_retransmissions: int = 8,
        heartbeat_interval: float = 30.0,
        delayed_ack: float = 0.2,
        cookie_lifetime: float = 60.0,
        max_send_buffer: int = 64 * 1024 * 1024,
        max_reassembly: int | None = None,
        max_out_of_order_chunks: int = 65536,
        init_burst: int = 16,
        init_rate: float = 4.0,
        interleaving: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.is_client = is_client
        self.local_port = local_port
        self.remote_port = remote_port
        self.mtu = mtu
        self.max_message_size = max_message_size
        self.receive_window = receive_window
        self._streams = streams
        self.rto_initial = rto_initial
        self.rto_min = rto_min
        self.rto_max = rto_max
        self.max_retransmissions = max_retransmissions
        self.max_init_retransmissions = max_init_retransmissions
        self.heartbeat_interval = heartbeat_interval
        self.delayed_ack = delayed_ack
        self.cookie_lifetime = cookie_lifetime
        # Limits against a hostile or broken peer (issue 9); exceeding one is reported as an
        # AssociationError event (and for the receive side, an ABORT).
        self.max_send_buffer = max_send_buffer
        self.max_reassembly = (
            max_reassembly
            if max_reassembly is not None
            else 2 * max_message_size + 2 * receive_window
        )
        self.max_out_of_order_chunks = max_out_of_order_chunks
        # RFC 8260 I-DATA: offered when ``interleaving``, used when the peer offers it too.
        self.interleaving = interleaving
        self._idata = False
        self._seq_mask = 0xFFFF  # SSN (DATA) or MID (I-DATA) arithmetic
        self._umid_out: dict[int, int] = {}  # I-DATA unordered MIDs per stream
        self._ipartials: dict[tuple[int, bool, int], _IPartial] = {}
        self.init_burst = init_burst
        self.init_rate = init_rate
        self._init_tokens = float(init_burst)
        self._init_tokens_at = 0.0
        self._init_flood_reported = False
        self._held = 0  # bytes held for reassembly/ordering: partials, orphans, stash, deferred
        self._queued_bytes = 0  # bytes queued by send() and not yet packetised
        self._rng = rng or random.SystemRandom()
        self._secret = bytes(self._rng.getrandbits(8) for _ in range(32))

        self.state = AssociationState.CLOSED
        self._dead = False
        self._now = 0.0
        self._events: list[Event] = []
        self._packets: list[bytes] = []  # finished packets (handshake, abort)
        self._ctrl: deque[bytes] = deque()  # encoded control chunks to bundle

        # Tags and negotiated parameters.
        self.local_tag = 0
        self.peer_tag = 0
        self._local_initial_tsn = 0
        self._peer_flags = 0
        self.outbound_streams = 0
        self.inbound_streams = 0
        self._header = b""
        self._init_chunk = b""
        self._cookie_echo = b""
        self._echo_sent_at = 0.0  # when the current COOKIE ECHO was last sent
        self._t1_at: float | None = None
        self._t1_count = 0

        # Counters for tests and benchmarks (never read by the protocol).
        self.fast_retransmits = 0  # chunks queued by fast retransmit or a probe timeout
        self.t3_expirations = 0  # T3-rtx timeouts with data outstanding
        self.dropped_oversized = 0
        self._init_transfer_state()

    def _init_transfer_state(self) -> None:
        """Sender, receiver, heartbeat, stream-reset and shutdown state of one association
        incarnation: set at construction and again when the peer restarts (RFC 9260 5.2.4 A).
        """
        self._umid_out = {}
        self._ipartials = {}
        self._held = 0
        self._queued_bytes = 0
        # Sender.
        self._next_tsn = 0  # unwrapped
        self._cum_acked = -1  # unwrapped: highest TSN cumulatively acked by the peer
        # Queued messages per stream, served round robin at message granularity (fragments of
        # one message must have consecutive TSNs): a backlog on one channel delays another
        # channel's message (or a DCEP OPEN) by at most the message in progress.
        self._out_streams: dict[int, deque[_OutMsg]] = {}
        self._rr: deque[int] = deque()  # stream ids with queued messages, the one served first
        self._sent: deque[_Out] = deque()
        self._rtx: list[_Out] = []
        self._flight = 0
        self._cwnd = min(4 * self.mtu, max(2 * self.mtu, 4380))
        self._ssthresh = 1 << 30
        self._pba = 0
        self._peer_rwnd = 0
        self._fast_recovery_exit: int | None = None
        self._fast_rtx_pending = False
        self._ssn_out: dict[int, int] = {}
        self._buffered: dict[int, int] = {}
        self._buffer_decreased: set[int] = set()
        self._t3_at: float | None = None
        # Probe timeout (sender.py _on_pto): an early, cwnd-halving retransmission of the
        # first outstanding chunk after 2 SRTT without progress, before T3.
        self._pto_at: float | None = None
        self._probes = 0
        self._tail_immediate = False  # the last DATA chunk sent carried the I bit (RFC 7053)
        self._rto = self.rto_initial
        self._srtt: float | None = None
        self._rttvar = 0.0
        self._rtt_tsn = -1
        self._rtt_sent = 0.0
        self._errors = 0
        self._adv_ack = -1
        self._fwd_needed = False

        # Receiver.
        self._cum_in = -1  # unwrapped: highest TSN received in sequence
        self._above: dict[int, int] = {}  # TSN above _cum_in -> payload size
        self._above_bytes = 0
        self._dups: list[int] = []
        self._sack_now = False
        self._sack_pending = False
        self._data_packets = 0
        self._sack_at: float | None = None
        self._ssn_in: dict[int, int] = {}
        self._stash: dict[int, dict[int, tuple[int, bytes | None]]] = {}
        self._partials: dict[int, _Partial] = {}
        self._orphans: dict[int, tuple[int, int, int, int, bytes]] = {}

        # Heartbeat.
        self._hb_at: float | None = None
        self._hb_nonce: int | None = None
        self._last_sent = 0.0
        # Path MTU probe (RFC 8899 section 6.2.1: HEARTBEAT + PAD), at most one outstanding.
        self._probe: tuple[int, int] | None = None  # (nonce, size)

        # Stream reset (RFC 6525).
        self._reset_queue: list[int] = []
        self._resetting: set[int] = set()
        self._reconf_req: OutgoingSsnResetRequest | None = None
        self._reconf_seq = 0
        self._reconf_at: float | None = None
        self._peer_req_expected: int | None = None
        self._last_response: ReconfigResponse | None = None
        self._deferred_reset: OutgoingSsnResetRequest | None = None
        self._deferred_chunks: list[tuple[int, int, int, int, int, bytes]] = []

        # Shutdown.
        self._shutdown_requested = False
        self._t2_at: float | None = None
        self._t2_count = 0

    def _send_packet(self, tag: int, chunk: bytes) -> None:
        header = _HDR.pack(self.local_port, self.remote_port, tag)
        crc = _crc.extend(_crc.extend(_crc.value(header), _ZERO4), chunk)
        self._packets.append(header + _CRC.pack(crc) + chunk)

    def _close(self, reason: str | None) -> None:
        """Enter CLOSED for good: timers off, queues dropped, one Closed event."""
        if self._dead:
            return
        self._dead = True
        self.state = _S.CLOSED
        self._header = b""
        for attr in ("_t1_at", "_t2_at", "_t3_at", "_pto_at", "_hb_at", "_sack_at", "_reconf_at"):
            setattr(self, attr, None)
        self._out_streams.clear()
        self._rr.clear()
        self._sent.clear()
        self._rtx.clear()
        self._ctrl.clear()
        self._sack_now = self._sack_pending = False
        self._queued_bytes = 0
        for sid in list(self._buffered):
            if self._buffered[sid]:
                self._buffered[sid] = 0
                self._buffer_decreased.add(sid)
        self._events.append(Closed(reason))

    def _unwrap_in(self, wire: int) -> int:
        cum = self._cum_in
        tsn = cum + ((wire - cum) & _M32)
        return tsn - (1 << 32) if tsn - cum >= _HALF else tsn

    def _unwrap_out(self, wire: int) -> int:
        ref = self._cum_acked
        tsn = ref + ((wire - ref) & _M32)
        return tsn - (1 << 32) if tsn - ref >= _HALF else tsn

    def _update_rto(self, r: float) -> None:
        """RFC 6298 section 2 (alpha 1/8, beta 1/4, G ignored), clamped to [min, max]."""
        if self._srtt is None:
            self._srtt = r
            self._rttvar = r / 2
        else:
            self._rttvar = 0.75 * self._rttvar + 0.25 * abs(self._srtt - r)
            self._srtt = 0.875 * self._srtt + 0.125 * r
        self._rto = min(max(self._srtt + 4 * self._rttvar, self.rto_min), self.rto_max)

    def _drop_head(self, sid: int) -> None:
        """Remove the head message of stream ``sid`` and move the stream to the back."""
        q = self._out_streams[sid]
        q.popleft()
        rr = self._rr
        if rr and rr[0] == sid:
            rr.popleft()
        else:
            rr.remove(sid)
        if q:
            rr.append(sid)
        else:
            del self._out_streams[sid]

    def _buffered_empty(self) -> bool:
        return not self._rr and not self._sent

    # Implemented by the mixins; declared here so each mixin type-checks on its own.

    def abort(self, reason: str = "") -> None:
        raise NotImplementedError

    def reset_streams(self, ids: list[int] | tuple[int, ...]) -> None:
        raise NotImplementedError

    def _maybe_send_shutdown(self) -> None:
        raise NotImplementedError

    def _maybe_send_reset(self) -> None:
        raise NotImplementedError

    def _sack_chunk(self) -> bytes:
        raise NotImplementedError

    def _deliver(self, tsn: int, flags: int, sid: int, ssn: int, ppid: int, payload: bytes) -> None:
        raise NotImplementedError

    def _try_deferred_reset(self) -> None:
        raise NotImplementedError

    def _ideliver(self, flags: int, sid: int, mid: int, ppid_fsn: int, payload: bytes) -> None:
        raise NotImplementedError

    def _on_stale_cookie(self, now: float) -> None:
        raise NotImplementedError
