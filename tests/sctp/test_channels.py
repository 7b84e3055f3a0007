"""Sans-I/O tests of rtcpeer.sctp.channels.DataChannelCore (RFC 8831, RFC 8832)."""

from __future__ import annotations

import pytest
from sctp_helpers import ChannelPair

from netsim import LinkConfig
from rtcpeer.errors import InvalidStateError, OperationError
from rtcpeer.sctp.channels import (
    AssociationClosed,
    AssociationConnected,
    BufferedAmountLow,
    ChannelClosed,
    ChannelClosing,
    ChannelCreated,
    ChannelError,
    ChannelMessage,
    ChannelOpen,
    ChannelState,
    MessageTooBig,
)
from rtcpeer.sctp.chunks import DataChunk, parse_packet
from rtcpeer.sctp.dcep import PPID_DCEP, DataChannelOpen


def open_pair(**kwargs: object) -> ChannelPair:
    p = ChannelPair(**kwargs)  # type: ignore[arg-type]
    assert p.connect()
    return p


def messages(p: ChannelPair, i: int, sid: int) -> list[str | bytes]:
    return [e.data for e in p.of(i, ChannelMessage) if e.id == sid]


def test_dcep_open_ack_and_stream_id_parity() -> None:
    p = open_pair()
    assert p.of(0, AssociationConnected) and p.of(1, AssociationConnected)
    a_id = p.a.open_channel("chat", "json")
    b_id = p.b.open_channel("back")
    a_id2 = p.a.open_channel("second")
    assert (a_id, a_id2, b_id) == (0, 2, 1)  # DTLS client even, server odd (RFC 8832 6)
    assert p.a.channel(a_id).state is ChannelState.CONNECTING
    assert p.run(lambda: len(p.of(0, ChannelOpen)) == 2 and len(p.of(1, ChannelOpen)) == 1)
    created = {e.id: e for e in p.of(1, ChannelCreated)}
    assert created[0].label == "chat" and created[0].protocol == "json" and created[0].ordered
    assert created[0].max_retransmits is None and created[0].max_packet_life_time is None
    assert [e.label for e in p.of(0, ChannelCreated)] == ["back"]
    assert p.b.channel(0).state is ChannelState.OPEN
    p.a.send(a_id, "hello")
    p.b.send(a_id, b"world")
    p.b.send(b_id, "from b")
    assert p.run(lambda: messages(p, 1, 0) and messages(p, 0, 0) and messages(p, 0, 1))
    assert messages(p, 1, 0) == ["hello"]
    assert messages(p, 0, 0) == [b"world"]
    assert messages(p, 0, 1) == ["from b"]


def test_channels_created_before_the_association_is_up() -> None:
    p = ChannelPair()
    first = p.a.open_channel("early")
    neg_a = p.a.open_channel("neg", negotiated=True, id=7)
    neg_b = p.b.open_channel("neg", negotiated=True, id=7)
    assert first == 0 and neg_a == neg_b == 7
    with pytest.raises(InvalidStateError):
        p.a.send(first, "too soon")
    assert p.connect()
    assert p.run(lambda: {e.id for e in p.of(0, ChannelOpen)} == {0, 7})
    assert {e.id for e in p.of(1, ChannelOpen)} == {7}
    assert [e.id for e in p.of(1, ChannelCreated)] == [0]  # the negotiated one sends no DCEP
    p.a.send(7, "n")
    p.b.send(7, "m")
    p.a.send(0, "e")
    assert p.run(lambda: messages(p, 1, 7) and messages(p, 0, 7) and messages(p, 1, 0))
    assert (messages(p, 1, 7), messages(p, 0, 7), messages(p, 1, 0)) == (["n"], ["m"], ["e"])


def test_negotiated_channel_needs_id_and_ids_are_checked() -> None:
    p = open_pair()
    with pytest.raises(TypeError):
        p.a.open_channel("x", negotiated=True)
    with pytest.raises(TypeError):
        p.a.open_channel("x", max_retransmits=1, max_packet_life_time=1)
    p.a.open_channel("x", negotiated=True, id=4)
    with pytest.raises(OperationError):
        p.a.open_channel("y", negotiated=True, id=4)
    with pytest.raises(TypeError):
        p.a.open_channel("z", negotiated=True, id=70000)
    # Automatic ids skip the ones in use.
    assert p.a.open_channel("auto") == 0
    assert p.a.open_channel("auto") == 2
    assert p.a.open_channel("auto") == 6


def test_string_binary_and_empty_ppids_on_the_wire() -> None:
    p = open_pair()
    p.a.open_channel("n", negotiated=True, id=2)
    p.b.open_channel("n", negotiated=True, id=2)
    p.collect()
    for item in ["héllo", b"\x00\x01", "", b"", bytearray(b"ba"), memoryview(b"mv")]:
        p.a.send(2, item)
    pkts = p.a.packets_to_send()
    chunks = [c for raw in pkts for c in parse_packet(raw).chunks if isinstance(c, DataChunk)]
    assert [c.ppid for c in chunks] == [51, 53, 56, 57, 53, 53]
    assert chunks[2].user_data == b"\x00" and chunks[3].user_data == b"\x00"
    for raw in pkts:
        p.b.receive(raw, p.clock.now)
    p.collect()
    assert messages(p, 1, 2) == ["héllo", b"\x00\x01", "", b"", b"ba", b"mv"]
    assert [type(m) for m in messages(p, 1, 2)] == [str, bytes, str, bytes, bytes, bytes]


def test_reliability_options_reach_the_peer() -> None:
    p = open_pair()
    rtx = p.a.open_channel("rtx", ordered=False, max_retransmits=0)
    timed = p.a.open_channel("timed", max_packet_life_time=150)
    assert p.run(lambda: len(p.of(1, ChannelCreated)) == 2)
    created = {e.id: e for e in p.of(1, ChannelCreated)}
    assert not created[rtx].ordered and created[rtx].max_retransmits == 0
    assert created[rtx].max_packet_life_time is None
    assert created[timed].ordered and created[timed].max_packet_life_time == 150
    ch = p.b.channel(timed)
    assert ch.max_packet_life_time == 150 and ch.max_retransmits is None


LOSSY = LinkConfig(loss=0.2, duplicate=0.05, reorder=0.3, jitter=0.02, seed=5)


def test_reliable_and_partially_reliable_channels_at_loss() -> None:
    p = open_pair(config=LOSSY)
    rel = p.a.open_channel("reliable")
    lossy = p.a.open_channel("lossy", ordered=False, max_retransmits=0)
    assert p.run(lambda: len(p.of(0, ChannelOpen)) == 2)
    n = 300
    for i in range(n):
        p.a.send(rel, f"r{i}")
        p.a.send(lossy, f"u{i}".encode())
    assert p.run(lambda: len(messages(p, 1, rel)) == n, max_time=120)
    assert messages(p, 1, rel) == [f"r{i}" for i in range(n)]
    p.run(max_time=5)  # let the last FORWARD TSNs and SACKs settle
    got = messages(p, 1, lossy)
    assert len(got) == len(set(got))  # never duplicated
    assert set(got) <= {f"u{i}".encode() for i in range(n)}
    assert 0.5 * n < len(got) < n  # lost ones are abandoned, not retransmitted


def test_buffered_amount_and_low_threshold_event() -> None:
    p = open_pair()
    sid = p.a.open_channel("buf", negotiated=True, id=0)
    p.b.open_channel("buf", negotiated=True, id=0)
    p.a.set_buffered_amount_low_threshold(sid, 1000)
    for _ in range(40):
        p.a.send(sid, bytes(1000))
    assert p.a.buffered_amount(sid) == 40_000
    assert p.run(lambda: len(messages(p, 1, sid)) == 40)
    assert p.a.buffered_amount(sid) == 0
    assert [e.id for e in p.of(0, BufferedAmountLow)] == [sid]  # crossed the threshold once
    p.a.send(sid, bytes(10))  # from 0 to 10 <= threshold: no new event
    assert p.run(lambda: len(messages(p, 1, sid)) == 41)
    assert len(p.of(0, BufferedAmountLow)) == 1


def test_close_by_stream_reset_and_id_reuse() -> None:
    p = open_pair()
    sid = p.a.open_channel("bye")
    assert p.run(lambda: p.of(0, ChannelOpen))
    p.a.send(sid, "last words")
    p.a.close(sid)
    assert p.a.channel(sid).state is ChannelState.CLOSING
    with pytest.raises(InvalidStateError):
        p.a.send(sid, "after close")
    assert p.run(lambda: p.of(0, ChannelClosed) and p.of(1, ChannelClosed))
    assert messages(p, 1, sid) == ["last words"]  # data queued before close() is delivered
    assert [e.id for e in p.of(1, ChannelClosing)] == [sid]
    assert p.a.channel_ids() == [] and p.b.channel_ids() == []
    again = p.a.open_channel("again")
    assert again == sid
    assert p.run(lambda: len(p.of(0, ChannelOpen)) == 2)
    p.a.send(again, "new")
    assert p.run(lambda: len(messages(p, 1, sid)) == 2)
    assert messages(p, 1, sid) == ["last words", "new"]


def test_close_from_the_other_side_at_loss() -> None:
    p = open_pair(config=LinkConfig(loss=0.15, reorder=0.3, seed=9))
    sid = p.a.open_channel("c")
    assert p.run(lambda: p.of(1, ChannelCreated))
    p.b.close(sid)
    assert p.run(lambda: p.of(0, ChannelClosed) and p.of(1, ChannelClosed), max_time=60)
    assert [e.id for e in p.of(0, ChannelClosing)] == [sid]


def test_remote_max_message_size_raises_type_error() -> None:
    p = open_pair(core_kwargs={"remote_max_message_size": 1000})
    sid = p.a.open_channel("m", negotiated=True, id=0)
    p.a.send(sid, bytes(1000))
    with pytest.raises(MessageTooBig) as info:
        p.a.send(sid, bytes(1001))
    assert isinstance(info.value, TypeError)
    with pytest.raises(TypeError):
        p.a.send(sid, "é" * 501)  # 1002 bytes in UTF-8
    p.a.set_remote_max_message_size(0)  # RFC 8841: 0 means no limit
    p.a.send(sid, bytes(100_000))


def test_dcep_open_for_a_stream_in_use_is_reported() -> None:
    p = open_pair()
    sid = p.a.open_channel("mine")
    assert p.run(lambda: p.of(0, ChannelOpen))
    hostile = DataChannelOpen.for_channel("theirs").encode()
    p.b.association.send(sid, PPID_DCEP, hostile)
    assert p.run(lambda: p.of(0, ChannelError))
    assert "already in use" in p.of(0, ChannelError)[0].reason
    assert p.a.channel(sid).label == "mine" and p.a.channel(sid).state is ChannelState.OPEN
    p.a.send(sid, "still works")
    assert p.run(lambda: messages(p, 1, sid) == ["still works"])


def test_max_channels_refuses_remote_opens() -> None:
    p = open_pair(core_kwargs={"max_channels": 2})
    ids = [p.a.open_channel(f"c{i}") for i in range(2)]
    assert p.run(lambda: len(p.of(0, ChannelOpen)) == 2)
    p.a.max_channels = 10
    extra = p.a.open_channel("one too many")
    assert p.run(lambda: p.of(1, ChannelError) and p.of(0, ChannelClosed))
    assert [e.id for e in p.of(0, ChannelClosed)] == [extra]
    assert "refused" in p.of(1, ChannelError)[0].reason
    assert sorted(p.b.channel_ids()) == ids


def test_garbage_dcep_and_unknown_ppid_are_reported_not_raised() -> None:
    p = open_pair()
    sid = p.a.open_channel("x", negotiated=True, id=0)
    p.b.open_channel("x", negotiated=True, id=0)
    p.b.association.send(sid, PPID_DCEP, b"\x03\x00")
    p.b.association.send(sid, 99, b"?")
    p.b.association.send(sid, 51, b"\xff\xfe")
    assert p.run(lambda: len(p.of(0, ChannelError)) == 3)
    reasons = " | ".join(e.reason for e in p.of(0, ChannelError))
    assert "bad DCEP" in reasons and "unknown PPID 99" in reasons and "UTF-8" in reasons


def test_association_close_closes_every_channel() -> None:
    p = open_pair()
    p.a.open_channel("one")
    p.a.open_channel("two")
    assert p.run(lambda: len(p.of(1, ChannelCreated)) == 2)
    p.a.abort("done here")
    assert p.run(lambda: p.of(1, AssociationClosed))
    assert sorted(e.id for e in p.of(0, ChannelClosed)) == [0, 2]
    assert sorted(e.id for e in p.of(1, ChannelClosed)) == [0, 2]
    reason = p.of(1, AssociationClosed)[0].reason
    assert reason is not None and "done here" in reason
    with pytest.raises(InvalidStateError):
        p.a.open_channel("late")


def test_graceful_shutdown_of_the_association() -> None:
    p = open_pair()
    sid = p.a.open_channel("s")
    assert p.run(lambda: p.of(0, ChannelOpen))
    p.a.send(sid, bytes(50_000))
    p.a.shutdown(p.clock.now)
    assert p.run(lambda: p.of(0, AssociationClosed) and p.of(1, AssociationClosed))
    assert messages(p, 1, sid) == [bytes(50_000)]
    assert p.of(0, AssociationClosed)[0].reason is None


def test_simultaneous_close_from_both_sides() -> None:
    p = open_pair(config=LinkConfig(loss=0.1, reorder=0.3, seed=2))
    sid = p.a.open_channel("both")
    assert p.run(lambda: p.of(1, ChannelCreated) and p.of(0, ChannelOpen))
    p.a.close(sid)
    p.b.close(sid)
    assert p.run(lambda: p.of(0, ChannelClosed) and p.of(1, ChannelClosed), max_time=60)
    assert p.a.channel_ids() == [] and p.b.channel_ids() == []
    assert not p.of(0, ChannelError) and not p.of(1, ChannelError)


def test_close_before_the_association_is_up() -> None:
    p = ChannelPair()
    sid = p.a.open_channel("never")
    p.a.close(sid)
    p.collect()
    assert [e.id for e in p.of(0, ChannelClosed)] == [sid]
    assert p.connect()
    p.run(max_time=1)
    assert not p.of(1, ChannelCreated)


def test_many_channels_interleaved_at_loss() -> None:
    p = open_pair(config=LinkConfig(loss=0.1, duplicate=0.05, reorder=0.2, seed=4))
    ids = [p.a.open_channel(f"c{i}", ordered=i % 2 == 0) for i in range(10)]
    assert p.run(lambda: len(p.of(0, ChannelOpen)) == 10)
    for n in range(30):
        for sid in ids:
            p.a.send(sid, f"{sid}:{n}")
    assert p.run(lambda: len(p.of(1, ChannelMessage)) == 300, max_time=120)
    for sid in ids:
        got = messages(p, 1, sid)
        want = [f"{sid}:{n}" for n in range(30)]
        assert got == want if sid % 4 == 0 else sorted(got) == sorted(want)


def test_open_arriving_during_shutdown_is_reported_not_raised() -> None:
    p = open_pair()
    p.a.association.send(0, 53, bytes(200_000))
    p.a.shutdown(p.clock.now)
    p.b.open_channel("late")
    assert p.run(lambda: p.of(0, AssociationClosed) and p.of(1, AssociationClosed))
    assert any("cannot accept" in e.reason for e in p.of(0, ChannelError))
