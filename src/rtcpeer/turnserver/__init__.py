"""rtcpeer.turnserver: an embedded STUN/TURN server (RFC 8489, RFC 8656) for development,
tests and small deployments: UDP and TCP listeners, UDP relays, long-term credentials and
TURN REST API (coturn ``use-auth-secret``) credentials, quotas.

``TurnServerCore`` is the sans-I/O core; ``TurnServer`` the asyncio shell;
``run_turn_server(...)`` runs one until cancelled; ``rest_credentials(secret, user, expiry)``
makes REST API credentials.
"""

from rtcpeer.turnserver.core import Allocation, TurnServerCore, rest_credentials
from rtcpeer.turnserver.server import TurnServer, run_turn_server

__all__ = ["Allocation", "TurnServer", "TurnServerCore", "rest_credentials", "run_turn_server"]
