"""rtcpeer.limits.Limits: validation, dict spelling, and agreement with the defaults the layers
really use (a limit documented in docs/limits.md must be the one enforced)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.limits import DEFAULT_LIMITS, Limits, limits_of
from rtcpeer.peerconnection import LOCAL_MAX_MESSAGE_SIZE
from rtcpeer.sctp.association import Association
from rtcpeer.signaling.server import ServerConfig


def test_defaults_are_safe_and_documented_values() -> None:
    limits = Limits()
    assert limits == DEFAULT_LIMITS
    assert limits.max_message_size == 256 * 1024
    assert limits.max_buffered_amount == 16 * 1024 * 1024
    assert limits.max_buffered_amount <= limits.max_send_buffer
    assert limits.max_channels == 1024
    assert limits.max_remote_candidates == 100
    assert limits.max_pending_signaling == 256
    # Worst case held for one peer connection stays in the tens of MiB.
    held = limits.max_send_buffer + limits.max_reassembly_bytes + limits.max_receive_buffer
    assert held < 128 * 1024 * 1024


def test_agrees_with_what_the_layers_enforce() -> None:
    assert LOCAL_MAX_MESSAGE_SIZE == DEFAULT_LIMITS.max_message_size
    assert ServerConfig().max_pending == DEFAULT_LIMITS.max_pending_signaling
    # The association exactly as the peer connection builds it (aio/connection.py).
    assoc = Association(True, rng=random.Random(1), max_message_size=LOCAL_MAX_MESSAGE_SIZE + 1024)
    assert assoc.max_reassembly == DEFAULT_LIMITS.max_reassembly_bytes
    assert assoc.receive_window == DEFAULT_LIMITS.max_receive_buffer
    assert assoc.max_send_buffer == DEFAULT_LIMITS.max_send_buffer


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "10", None])
def test_rejects_non_positive_or_non_int(value: object) -> None:
    with pytest.raises(ValueError, match="max_channels"):
        Limits(max_channels=value)  # type: ignore[arg-type]


def test_buffered_amount_cannot_exceed_the_send_buffer() -> None:
    with pytest.raises(ValueError, match="max_buffered_amount"):
        Limits(max_buffered_amount=2 * DEFAULT_LIMITS.max_send_buffer)


def test_from_mapping_accepts_both_spellings_and_rejects_unknown_names() -> None:
    assert Limits.from_mapping(None) is DEFAULT_LIMITS
    assert Limits.from_mapping({}) is DEFAULT_LIMITS
    a = Limits.from_mapping({"maxChannels": 8, "max_remote_candidates": 10})
    assert a.max_channels == 8 and a.max_remote_candidates == 10
    assert a.max_message_size == DEFAULT_LIMITS.max_message_size
    with pytest.raises(TypeError, match="maxChannelz"):
        Limits.from_mapping({"maxChannelz": 8})
    assert DEFAULT_LIMITS.with_changes(max_channels=3).max_channels == 3
    with pytest.raises(ValueError):
        DEFAULT_LIMITS.with_changes(max_channels=0)


@given(st.dictionaries(st.sampled_from(sorted(DEFAULT_LIMITS.to_dict())), st.integers(1, 2**40)))
def test_to_dict_round_trips(values: dict[str, int]) -> None:
    try:
        limits = Limits(**values)
    except ValueError:
        assert values.get("max_buffered_amount", DEFAULT_LIMITS.max_buffered_amount) > values.get(
            "max_send_buffer", DEFAULT_LIMITS.max_send_buffer
        )
        return
    assert Limits.from_mapping(limits.to_dict()) == limits
    camel = {
        "".join(w if i == 0 else w.title() for i, w in enumerate(k.split("_"))): v
        for k, v in limits.to_dict().items()
    }
    assert Limits.from_mapping(camel) == limits


def test_the_other_layers_defaults_agree() -> None:
    from rtcpeer.ice.agent import IceAgent
    from rtcpeer.sctp.channels import DataChannelCore
    from rtcpeer.turnserver.core import TurnServerCore

    core = DataChannelCore(Association(True, rng=random.Random(1)), True)
    assert core.max_buffered_amount == DEFAULT_LIMITS.max_buffered_amount
    assert core.max_send_message_size == DEFAULT_LIMITS.max_send_message_size
    assert IceAgent(True).max_remote_candidates == DEFAULT_LIMITS.max_remote_candidates
    assert TurnServerCore("r").max_permissions == DEFAULT_LIMITS.max_turn_permissions


class _WithLimits:
    limits = Limits(max_channels=5)


def test_limits_of_a_configuration() -> None:
    assert limits_of(None) is DEFAULT_LIMITS
    assert limits_of({}) is DEFAULT_LIMITS
    assert limits_of({"iceServers": []}) is DEFAULT_LIMITS
    assert limits_of({"limits": None}) is DEFAULT_LIMITS
    given_limits = Limits(max_channels=7)
    assert limits_of({"limits": given_limits}) is given_limits
    assert limits_of({"limits": {"maxChannels": 9}}).max_channels == 9
    assert limits_of(_WithLimits()).max_channels == 5
    assert limits_of(object()) is DEFAULT_LIMITS
    with pytest.raises(TypeError):
        limits_of({"limits": 12})
    with pytest.raises(TypeError):
        limits_of({"limits": {"maxChanels": 9}})
    with pytest.raises(ValueError):
        limits_of({"limits": {"maxChannels": 0}})


async def test_peer_connection_reads_the_limits_member() -> None:
    from rtcpeer import RTCPeerConnection

    pc = RTCPeerConnection({"limits": {"maxChannels": 3}})
    try:
        assert pc.getConfiguration()["limits"].max_channels == 3
        with pytest.raises(TypeError):
            RTCPeerConnection({"limits": "many"})
    finally:
        await pc.close()


def test_limits_is_a_configuration_member() -> None:
    from rtcpeer import RTCPeerConnection
    from rtcpeer.configuration import RTCConfiguration
    from rtcpeer.limits import Limits

    config = RTCConfiguration(limits={"maxChannels": 3})
    assert isinstance(config.limits, Limits) and config.limits.max_channels == 3
    assert RTCConfiguration().limits is None
    pc = RTCPeerConnection({"limits": {"maxChannels": 3}})
    try:
        got = pc.getConfiguration()["limits"]
        assert isinstance(got, Limits) and got.max_channels == 3
    finally:
        pc.close()
