"""Time-limited TURN credentials for clients (the "TURN REST API" scheme).

coturn's ``use-auth-secret`` mode (draft-uberti-behave-turn-rest-00): the signaling server and the
TURN server share a secret; the server hands each client

    username   = "<unix expiry time>:<user id>"
    credential = base64(HMAC-SHA1(secret, username))

and the TURN server recomputes the HMAC and rejects usernames whose time has passed, so no
per-user state is needed and leaked credentials expire by themselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any


def turn_credentials(secret: str, user: str, ttl: float, now: float) -> tuple[str, str]:
    """Return ``(username, credential)`` valid until ``now + ttl`` (``now`` is Unix time)."""
    username = f"{int(now + ttl)}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers_for(
    static: list[dict[str, Any]],
    turn_secret: str | None,
    turn_urls: list[str],
    turn_ttl: float,
    user: str,
    now: float,
) -> list[dict[str, Any]]:
    """The ``iceServers`` list of an RTCConfiguration for one client."""
    servers = [dict(server) for server in static]
    if turn_secret and turn_urls:
        username, credential = turn_credentials(turn_secret, user, turn_ttl, now)
        servers.append({"urls": list(turn_urls), "username": username, "credential": credential})
    return servers
