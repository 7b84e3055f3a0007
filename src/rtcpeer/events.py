"""A small EventTarget in the spirit of the DOM (addEventListener / removeEventListener).

Listeners may be plain functions or coroutine functions. A listener receives the event object.
``on<type>`` attribute handlers (``pc.onicecandidate = fn``) are supported as in the browser, and
``@target.on("type")`` registers a listener as a decorator. A listener that raises is logged and
never breaks the caller: events come from the network and must not kill a connection.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)

Listener = Callable[[Any], Any]


class Event:
    """A DOM-style event: ``type`` plus whatever attributes the subclass carries."""

    def __init__(self, type: str, **fields: Any) -> None:
        self.type = type
        self.target: EventTarget | None = None
        for key, value in fields.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        fields = {k: v for k, v in vars(self).items() if k not in ("type", "target")}
        return f"<Event {self.type} {fields}>" if fields else f"<Event {self.type}>"


class EventTarget:
    """addEventListener / removeEventListener / dispatchEvent, plus ``on<type>`` handlers."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[tuple[Listener, bool]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def addEventListener(
        self, type: str, listener: Listener, options: dict[str, Any] | bool | None = None
    ) -> None:
        once = bool(options.get("once")) if isinstance(options, dict) else False
        entries = self._listeners.setdefault(type, [])
        if any(existing is listener for existing, _ in entries):
            return
        entries.append((listener, once))

    def removeEventListener(self, type: str, listener: Listener) -> None:
        entries = self._listeners.get(type)
        if entries:
            self._listeners[type] = [(fn, once) for fn, once in entries if fn is not listener]

    def on(self, type: str) -> Callable[[Listener], Listener]:
        """Decorator form: ``@pc.on("icecandidate")``."""

        def register(listener: Listener) -> Listener:
            self.addEventListener(type, listener)
            return listener

        return register

    def dispatchEvent(self, event: Event) -> bool:
        event.target = self
        handler = getattr(self, "on" + event.type, None)
        listeners: list[Listener] = []
        if callable(handler):
            listeners.append(handler)
        entries = self._listeners.get(event.type)
        if entries:
            listeners.extend(fn for fn, _ in entries)
            if any(once for _, once in entries):
                self._listeners[event.type] = [(fn, once) for fn, once in entries if not once]
        for listener in listeners:
            self._call(listener, event)
        return True

    def _call(self, listener: Listener, event: Event) -> None:
        try:
            result = listener(event)
        except Exception:
            logger.exception("%s listener for %r raised", type(self).__name__, event.type)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(self._await_listener(result, event.type))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _await_listener(self, awaitable: Awaitable[Any], event_type: str) -> None:
        try:
            await awaitable
        except Exception:
            logger.exception("%s listener for %r raised", type(self).__name__, event_type)
