"""Tokens from an external authorization server, checked by RFC 7662 token introspection.

For deployments that already run an identity provider (Keycloak, Auth0, Okta, ...): hajatek-mcp stays a pure
resource server. Each bearer token is sent to the provider's introspection endpoint (authenticated with this server's
own client credentials); an inactive or expired token, or one without this server among its audiences, is refused.
Answers are cached briefly (never past the token's expiry) so a busy agent does not hammer the provider.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx2
from mcp.server.auth.provider import AccessToken
from pydantic import SecretStr

__all__ = ["IntrospectionVerifier"]

logger = logging.getLogger("hajatek_mcp.oauth")

CACHE_SECONDS = 60.0


class IntrospectionVerifier:
    """The SDK's ``TokenVerifier`` for an external issuer (RFC 7662)."""

    def __init__(
        self,
        endpoint: str,
        *,
        client_id: str,
        client_secret: SecretStr,
        resource: str,
        transport: httpx2.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoint = endpoint
        self.resource = resource.rstrip("/")
        self._auth = (client_id, client_secret)
        self._transport = transport
        self._clock = clock
        self._cache: dict[str, tuple[float, AccessToken | None]] = {}

    async def verify_token(self, token: str) -> AccessToken | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        answer = await self._introspect(token)
        result = self._accept(token, answer, now) if answer is not None else None
        until = now + CACHE_SECONDS
        if result is not None and result.expires_at is not None:
            until = min(until, result.expires_at)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (until, result)
        return result

    async def _introspect(self, token: str) -> dict[str, Any] | None:
        client_id, secret = self._auth
        try:
            async with httpx2.AsyncClient(transport=self._transport, timeout=10.0) as http:
                response = await http.post(
                    self.endpoint,
                    data={"token": token, "token_type_hint": "access_token"},
                    auth=(client_id, secret.get_secret_value()),
                    headers={"Accept": "application/json"},
                )
        except httpx2.HTTPError as exc:
            logger.warning("token introspection failed (%s): refusing the token", type(exc).__name__)
            return None
        if response.status_code != 200:
            logger.warning("token introspection answered %s: refusing the token", response.status_code)
            return None
        try:
            body = response.json()
        except ValueError:
            logger.warning("token introspection answered malformed JSON: refusing the token")
            return None
        return body if isinstance(body, dict) else None

    def _accept(self, token: str, answer: dict[str, Any], now: float) -> AccessToken | None:
        if answer.get("active") is not True:
            return None
        expires = answer.get("exp")
        if isinstance(expires, int | float) and expires <= now:
            return None
        audiences = answer.get("aud", [])
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if self.resource not in {str(a).rstrip("/") for a in audiences}:
            logger.info("refusing a token issued for another audience")
            return None
        return AccessToken(
            token=token,
            client_id=str(answer.get("client_id") or "unknown"),
            scopes=str(answer.get("scope") or "").split(),
            expires_at=int(expires) if isinstance(expires, int | float) else None,
            resource=self.resource,
            subject=str(answer["sub"]) if answer.get("sub") else None,
            claims={"iss": answer["iss"]} if answer.get("iss") else None,
        )
