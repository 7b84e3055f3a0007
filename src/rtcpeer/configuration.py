"""RTCConfiguration and RTCIceServer (W3C webrtc-pc sections 4.2.1 to 4.2.5).

Both accept what a JavaScript port passes (plain dicts with the W3C member names) as well as
keyword arguments, and normalise into frozen dataclasses. rtcpeer adds members of its own:
``includeLoopback`` (also spelled ``include_loopback``), which gathers 127.0.0.1 host
candidates so two peers on one machine without a network (tests, CI) can connect.
ICE extras (ICE engineer): ``iceTcp`` (``ice_tcp``, default False) also gathers ICE-TCP host
candidates (RFC 6544, passive and active, as browsers offer); ``iceConsentTimeout``
(``ice_consent_timeout``, seconds, default None = RFC 7675's 30 s) is how long the selected
pair may go without a consent response before ICE fails (lower it in tests). ``limits``
(a :class:`rtcpeer.limits.Limits` or a dict in either spelling; None = the defaults) bounds
what a remote peer can make the connection hold (docs/limits.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rtcpeer.errors import InvalidAccessError, SyntaxError_
from rtcpeer.limits import Limits, limits_of

__all__ = ["RTCConfiguration", "RTCIceServer", "to_configuration"]

_SCHEMES = ("stun", "stuns", "turn", "turns")
_ICE_TRANSPORT_POLICIES = ("all", "relay")
_BUNDLE_POLICIES = ("balanced", "max-compat", "max-bundle")
_RTCP_MUX_POLICIES = ("require",)


@dataclass(frozen=True, slots=True)
class RTCIceServer:
    """One STUN/TURN server: ``urls`` (str or list), ``username``, ``credential``."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def __init__(
        self,
        urls: str | Iterable[str] | None = None,
        username: str | None = None,
        credential: str | None = None,
        **extra: Any,
    ) -> None:
        if "url" in extra and urls is None:
            urls = extra.pop("url")  # the legacy spelling, still accepted by browsers
        if urls is None:
            raise TypeError("RTCIceServer: 'urls' is required")
        url_list = (urls,) if isinstance(urls, str) else tuple(urls)
        for url in url_list:
            if not isinstance(url, str):
                raise TypeError(f"RTCIceServer: url {url!r} is not a string")
            scheme = url.split(":", 1)[0].lower()
            if ":" not in url or scheme not in _SCHEMES:
                raise SyntaxError_(
                    f"RTCIceServer: {url!r} is not a stun:, stuns:, turn: or turns: URL"
                )
            if scheme in ("turn", "turns") and (username is None or credential is None):
                raise InvalidAccessError(
                    f"RTCIceServer: TURN url {url!r} needs a username and a credential"
                )
        object.__setattr__(self, "urls", url_list)
        object.__setattr__(self, "username", username)
        object.__setattr__(self, "credential", credential)

    @classmethod
    def from_any(cls, value: RTCIceServer | Mapping[str, Any]) -> RTCIceServer:
        if isinstance(value, RTCIceServer):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"RTCIceServer: expected a dict, got {type(value).__name__}")
        return cls(**dict(value))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


@dataclass(frozen=True, slots=True)
class RTCConfiguration:
    """W3C RTCConfiguration (plus rtcpeer's ``includeLoopback``)."""

    iceServers: tuple[RTCIceServer, ...] = ()
    iceTransportPolicy: str = "all"
    bundlePolicy: str = "balanced"
    rtcpMuxPolicy: str = "require"
    certificates: tuple[Any, ...] = ()
    iceCandidatePoolSize: int = 0
    includeLoopback: bool = False
    iceTcp: bool = False
    iceConsentTimeout: float | None = None
    limits: Limits | None = None  # rtcpeer: resource limits (docs/limits.md); None = defaults

    def __init__(
        self,
        iceServers: Iterable[RTCIceServer | Mapping[str, Any]] | None = None,
        iceTransportPolicy: str = "all",
        bundlePolicy: str = "balanced",
        rtcpMuxPolicy: str = "require",
        certificates: Iterable[Any] | None = None,
        iceCandidatePoolSize: int = 0,
        includeLoopback: bool = False,
        **extra: Any,
    ) -> None:
        if "include_loopback" in extra:
            includeLoopback = bool(extra.pop("include_loopback"))
        ice_tcp = bool(extra.pop("iceTcp", extra.pop("ice_tcp", False)))
        raw_limits = extra.pop("limits", None)
        limits = limits_of({"limits": raw_limits}) if raw_limits is not None else None
        consent = extra.pop("iceConsentTimeout", extra.pop("ice_consent_timeout", None))
        if consent is not None and (
            isinstance(consent, bool) or not isinstance(consent, int | float) or not consent > 0
        ):
            raise TypeError(f"iceConsentTimeout {consent!r} is not a positive number of seconds")
        servers = tuple(RTCIceServer.from_any(s) for s in (iceServers or ()))
        if iceTransportPolicy not in _ICE_TRANSPORT_POLICIES:
            raise TypeError(f"iceTransportPolicy {iceTransportPolicy!r} is not 'all' or 'relay'")
        if bundlePolicy not in _BUNDLE_POLICIES:
            raise TypeError(f"bundlePolicy {bundlePolicy!r} is not one of {_BUNDLE_POLICIES}")
        if rtcpMuxPolicy not in _RTCP_MUX_POLICIES:
            raise TypeError(f"rtcpMuxPolicy {rtcpMuxPolicy!r} is not 'require'")
        if (
            isinstance(iceCandidatePoolSize, bool)
            or not isinstance(iceCandidatePoolSize, int)
            or not 0 <= iceCandidatePoolSize <= 255
        ):
            raise TypeError(f"iceCandidatePoolSize {iceCandidatePoolSize!r} is not in 0..255")
        object.__setattr__(self, "iceServers", servers)
        object.__setattr__(self, "iceTransportPolicy", iceTransportPolicy)
        object.__setattr__(self, "bundlePolicy", bundlePolicy)
        object.__setattr__(self, "rtcpMuxPolicy", rtcpMuxPolicy)
        object.__setattr__(self, "certificates", tuple(certificates or ()))
        object.__setattr__(self, "iceCandidatePoolSize", iceCandidatePoolSize)
        object.__setattr__(self, "includeLoopback", bool(includeLoopback))
        object.__setattr__(self, "iceTcp", ice_tcp)
        object.__setattr__(
            self, "iceConsentTimeout", float(consent) if consent is not None else None
        )
        object.__setattr__(self, "limits", limits)
        # Unknown members are ignored, as WebIDL dictionaries do.

    def ice_server_dicts(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.iceServers]

    def to_dict(self) -> dict[str, Any]:
        return {
            "iceServers": self.ice_server_dicts(),
            "iceTransportPolicy": self.iceTransportPolicy,
            "bundlePolicy": self.bundlePolicy,
            "rtcpMuxPolicy": self.rtcpMuxPolicy,
            "certificates": list(self.certificates),
            "iceCandidatePoolSize": self.iceCandidatePoolSize,
            "includeLoopback": self.includeLoopback,
            "iceTcp": self.iceTcp,
            "iceConsentTimeout": self.iceConsentTimeout,
            "limits": self.limits,
        }


def to_configuration(value: RTCConfiguration | Mapping[str, Any] | None) -> RTCConfiguration:
    """Normalise what a user passes to ``RTCPeerConnection(...)``/``setConfiguration(...)``."""
    if value is None:
        return RTCConfiguration()
    if isinstance(value, RTCConfiguration):
        return value
    if isinstance(value, Mapping):
        return RTCConfiguration(**dict(value))
    raise TypeError(f"RTCConfiguration: expected a dict, got {type(value).__name__}")
