"""The MDN examples under examples/ run and do what they say."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def load(name: str) -> ModuleType:
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, name))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_make_call_and_answer(capsys: pytest.CaptureFixture[str]) -> None:
    states = await load("make_call.py").main()
    assert states == ("connected", "connected")
    assert "caller: connected callee: connected" in capsys.readouterr().out


async def test_datachannel_chat(capsys: pytest.CaptureFixture[str]) -> None:
    received = await load("datachannel_chat.py").main()
    assert received == ["Hello", "from rtcpeer"]
    out = capsys.readouterr().out
    assert "send channel is open" in out and "status has changed to open" in out


async def test_perfect_negotiation(capsys: pytest.CaptureFixture[str]) -> None:
    await load("perfect_negotiation.py").main()
    out = capsys.readouterr().out
    assert "signaling states: stable stable" in out
    assert "received: hello from" in out
