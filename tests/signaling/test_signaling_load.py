"""Many clients at once, and random input to the relay's message handling."""

from __future__ import annotations

import asyncio
import json

from hypothesis import given
from hypothesis import strategies as st

from rtcpeer.signaling.loadtest import run_local_load
from rtcpeer.signaling.server import ServerConfig, SignalingHub, _Session


async def test_500_clients_in_250_rooms_relayed_without_loss() -> None:
    report = await run_local_load(clients=500, rooms=250, messages=5, interval=0.02)
    print(report.summary())
    assert report.expected == 250 * 2 * 5
    assert report.received == report.expected
    assert report.lost == 0 and report.duplicates == 0
    assert report.p99_ms < 2000  # generous: CI machines are shared


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def _hub() -> tuple[SignalingHub, _Session]:
    hub = SignalingHub(ServerConfig(max_message_size=2048))
    hub.members["r"] = {"me", "you"}
    return hub, _Session("r", "me", 1)


@given(st.text(max_size=3000))
def test_random_text_gets_an_answer_never_an_exception(text: str) -> None:
    hub, session = _hub()
    result = asyncio.run(hub._handle_text(session, text))
    assert result is None or isinstance(result, str)


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_random_objects_are_relayed_with_from_or_refused_clearly(obj: dict[str, object]) -> None:
    hub, session = _hub()
    try:
        text = json.dumps(obj)
    except ValueError:
        return
    result = asyncio.run(hub._handle_text(session, text))
    if result is None:
        return  # relayed (nobody local to deliver to)
    assert (
        result == ""
        and obj.get("type") == "leave"
        or any(
            phrase in result
            for phrase in ("too large", "invalid JSON", "reserved", '"to" must', "no peer")
        )
    ), result
