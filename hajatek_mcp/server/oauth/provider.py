"""The built-in OAuth 2.1 authorization server, as the MCP SDK's ``OAuthAuthorizationServerProvider``.

The SDK serves the endpoints (metadata, ``/register`` behind this package's limits in :mod:`.registration`,
``/authorize``, ``/token``, ``/revoke``, protected resource metadata) and checks PKCE (S256), redirect URIs, code
expiry and bearer tokens; this class keeps the state (:class:`~hajatek_mcp.server.oauth.store.OAuthStore`) and sends
``/authorize`` to the consent page, where the merchant signs in with the admin passphrase and picks the scope.

Scopes: ``store.read`` (every tool that reads) and ``store.write`` (tools that change the store; it comes with
``store.read``). Access tokens live an hour, refresh tokens 30 days; a refresh rotates both. Tokens are bound to
this server's ``/mcp`` resource (audience); the SDK refuses a token issued for another resource.
"""

from __future__ import annotations

import logging
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.oauth.registration import check_client
from hajatek_mcp.server.oauth.store import MAX_UNAUTHORIZED_CLIENTS, Grant, OAuthStore, new_secret
from hajatek_mcp.server.safety import quote

__all__ = ["READ", "SCOPES", "WRITE", "HajatekOAuthProvider"]

logger = logging.getLogger("hajatek_mcp.oauth")

READ: Final = "store.read"
WRITE: Final = "store.write"
SCOPES: Final = (READ, WRITE)
ACCESS_TTL = 3600
REFRESH_TTL = 30 * 86400
CODE_TTL = 300
CONSENT_TTL = 600


class HajatekOAuthProvider:
    """State and decisions of the authorization server; HTTP is the SDK's and the consent page's."""

    def __init__(self, store: OAuthStore, *, issuer: str, resource: str, audit: AuditLog) -> None:
        self.store = store
        self.issuer = issuer.rstrip("/")
        self.resource = resource
        self.audit = audit

    # -- clients -----------------------------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        info = await self.store.client(client_id)
        return None if info is None else OAuthClientInformationFull.model_validate(info)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        """Keep a registration that passes :func:`check_client` (its name cleaned) while the store has room.

        Not audited: the audit log records the store's write attempts, not what strangers call themselves.
        """
        assert client_info.client_id is not None  # noqa: S101  # the SDK assigns it before calling us
        check_client(client_info)
        info = client_info.model_dump(mode="json", exclude_none=True)
        if not await self.store.add_client(client_info.client_id, info):
            logger.warning(
                "refused an OAuth client registration: %d registered apps are still unauthorized",
                MAX_UNAUTHORIZED_CLIENTS,
            )
            raise RegistrationError(
                "invalid_client_metadata",
                f"this server already holds {MAX_UNAUTHORIZED_CLIENTS} registered apps that were never authorized, "
                "its limit; unused registrations are forgotten after 24 hours, and the operator can remove one now "
                "with `hajatek-mcp oauth revoke CLIENT_ID` (`hajatek-mcp oauth clients` lists them)",
            )
        logger.info("registered OAuth client %s named %s", client_info.client_id, quote(client_info.client_name))

    # -- authorization: to the consent page, and back with a code ----------------------------------------------------

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        if params.resource is not None and params.resource.rstrip("/") != self.resource.rstrip("/"):
            raise AuthorizeError("invalid_target", f"this server only issues tokens for {self.resource}")
        requested = params.scopes or [READ]
        unknown = set(requested) - set(SCOPES)
        if unknown:
            raise AuthorizeError("invalid_scope", f"unknown scopes {sorted(unknown)}; use store.read or store.write")
        assert client.client_id is not None  # noqa: S101  # registered clients have one
        request_id, _ = await self.store.add_pending(
            client.client_id, {**params.model_dump(mode="json"), "scopes": requested}, CONSENT_TTL
        )
        return f"{self.issuer}/oauth/consent?request={request_id}"

    async def approve(self, request_id: str, scopes: list[str], subject: str) -> str:
        """The merchant said yes on the consent page: a code for the client's redirect URI (single-use, 5 min)."""
        pending = await self.store.pending(request_id)
        if pending is None or not await self.store.drop_pending(request_id):
            raise AuthorizeError("access_denied", "this consent request expired or was already answered")
        client_id, params, _, _ = pending
        code = new_secret("hjk_code_")
        await self.store.add_code(code, client_id, {**params, "scopes": scopes, "subject": subject}, CODE_TTL)
        await self.store.mark_authorized(client_id)
        await self.audit.record("oauth.grant", {"scopes": scopes}, "executed", "host", target=client_id)
        return _with_query(params["redirect_uri"], code=code, state=params.get("state"))

    async def deny(self, request_id: str) -> str:
        pending = await self.store.pending(request_id)
        if pending is None or not await self.store.drop_pending(request_id):
            raise AuthorizeError("access_denied", "this consent request expired or was already answered")
        client_id, params, _, _ = pending
        await self.audit.record("oauth.grant", {}, "declined", "host", target=client_id)
        return _with_query(params["redirect_uri"], error="access_denied", state=params.get("state"))

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> AuthorizationCode | None:
        found = await self.store.code(authorization_code, str(client.client_id))
        if found is None:
            return None
        _, data, expires_at = found
        return AuthorizationCode(
            code=authorization_code,
            scopes=data["scopes"],
            expires_at=expires_at,
            client_id=str(client.client_id),
            code_challenge=data["code_challenge"],
            redirect_uri=data["redirect_uri"],
            redirect_uri_provided_explicitly=data["redirect_uri_provided_explicitly"],
            resource=self.resource,
            subject=data.get("subject"),
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        found = await self.store.code(authorization_code.code, str(client.client_id))
        if found is None or not await self.store.use_code(authorization_code.code):
            raise TokenError("invalid_grant", "authorization code already used")
        grant_id = found[0]
        return await self._issue(grant_id, str(client.client_id), authorization_code.scopes, authorization_code.subject)

    # -- tokens ------------------------------------------------------------------------------------------------------

    async def _issue(self, grant_id: str, client_id: str, scopes: list[str], subject: str | None) -> OAuthToken:
        now = self.store.clock()
        access, refresh = new_secret("hjk_at_"), new_secret("hjk_rt_")
        await self.store.add_token(
            access, Grant("access", grant_id, client_id, scopes, self.resource, subject, now + ACCESS_TTL)
        )
        await self.store.add_token(
            refresh, Grant("refresh", grant_id, client_id, scopes, self.resource, subject, now + REFRESH_TTL)
        )
        return OAuthToken(access_token=access, expires_in=ACCESS_TTL, scope=" ".join(scopes), refresh_token=refresh)

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        grant = await self.store.token(refresh_token, "refresh")
        if grant is None or grant.client_id != client.client_id or grant.expires_at < self.store.clock():
            return None
        return RefreshToken(
            token=refresh_token,
            client_id=grant.client_id,
            scopes=grant.scopes,
            expires_at=int(grant.expires_at),
            resource=grant.resource,
            subject=grant.subject,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        grant = await self.store.token(refresh_token.token, "refresh")
        if grant is None:
            raise TokenError("invalid_grant", "refresh token unknown or already used")
        if not set(scopes or grant.scopes) <= set(grant.scopes):
            raise TokenError("invalid_scope", "a refresh cannot widen the granted scopes")
        await self.store.revoke_grant(grant.grant_id)  # rotation: the old access and refresh tokens stop working
        await self.audit.record(
            "oauth.refresh", {"scopes": scopes or grant.scopes}, "executed", "not_guarded", target=grant.client_id
        )
        return await self._issue(grant.grant_id, grant.client_id, scopes or grant.scopes, grant.subject)

    async def load_access_token(self, token: str) -> AccessToken | None:
        grant = await self.store.token(token, "access")
        if grant is None or grant.expires_at < self.store.clock():
            return None
        return AccessToken(
            token=token,
            client_id=grant.client_id,
            scopes=grant.scopes,
            expires_at=int(grant.expires_at),
            resource=grant.resource,
            subject=grant.subject,
            claims={"iss": self.issuer},
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        grant = await self.store.token(token.token, "access") or await self.store.token(token.token, "refresh")
        if grant is not None:
            await self.store.revoke_grant(grant.grant_id)
            await self.audit.record("oauth.revoke", {}, "executed", "not_guarded", target=grant.client_id)

    async def exchange_identity_assertion(self, client: OAuthClientInformationFull, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "identity assertions are not supported by this server")


def _with_query(url: str, **params: str | None) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode({k: v for k, v in params.items() if v is not None})) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
