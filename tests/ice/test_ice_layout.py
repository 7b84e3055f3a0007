"""The ICE agent's module split: public names stay importable and every module stays small."""

from __future__ import annotations

from pathlib import Path

import rtcpeer.ice
import rtcpeer.ice.agent as agent_mod
from rtcpeer.ice import events
from rtcpeer.ice.agent import (
    Address,
    CandidatePair,
    IceAgent,
    IceEvent,
    IceState,
    IceStateChanged,
    LocalCandidateLearned,
    LocalKey,
    RemoteCandidateLearned,
    RoleChanged,
    SelectedPairChanged,
    random_ice_string,
)
from rtcpeer.ice.checklist import Address as ChecklistAddress
from rtcpeer.ice.checklist import CandidatePair as ChecklistPair


def test_reexports_are_the_same_objects() -> None:
    assert IceState is events.IceState
    assert IceStateChanged is events.IceStateChanged
    assert SelectedPairChanged is events.SelectedPairChanged
    assert RemoteCandidateLearned is events.RemoteCandidateLearned
    assert LocalCandidateLearned is events.LocalCandidateLearned
    assert RoleChanged is events.RoleChanged
    assert IceEvent == events.IceEvent
    assert LocalKey is events.LocalKey
    assert Address is ChecklistAddress
    assert CandidatePair is ChecklistPair
    missing = [name for name in agent_mod.__all__ if not hasattr(agent_mod, name)]
    assert missing == []


def test_public_api_is_on_the_facade() -> None:
    for name in (
        "add_local_candidate",
        "local_candidates_complete",
        "set_remote_credentials",
        "add_remote_candidate",
        "restart",
        "set_role",
        "close",
        "datagrams_to_send",
        "events",
        "send",
        "receive",
        "next_timeout",
        "timeout",
    ):
        assert callable(getattr(IceAgent, name)), name
    # The hot path is defined on the facade itself: no extra lookup layers in front of it.
    assert "receive" in IceAgent.__dict__
    assert "send" in IceAgent.__dict__
    agent = IceAgent(True, "abcd", "p" * 24)
    assert agent.state is IceState.NEW
    assert agent.local_ufrag == "abcd"
    assert len(random_ice_string(24)) == 24


def test_every_ice_module_is_under_the_size_limit() -> None:
    folder = Path(rtcpeer.ice.__file__).parent
    sizes = {p.name: len(p.read_text().splitlines()) for p in folder.glob("*.py")}
    assert "agent.py" in sizes
    assert all(n <= 800 for n in sizes.values()), sizes
