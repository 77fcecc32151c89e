"""Remote access: a built-in OAuth 2.1 authorization server with a consent page, on the MCP SDK's auth support."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from pydantic import AnyHttpUrl, SecretStr
from starlette.routing import BaseRoute

from hajatek_mcp.server.audit import SCHEMA as AUDIT_SCHEMA
from hajatek_mcp.server.audit import AuditLog
from hajatek_mcp.server.backend import StateBackend
from hajatek_mcp.server.oauth.consent import consent_routes
from hajatek_mcp.server.oauth.introspection import IntrospectionVerifier
from hajatek_mcp.server.oauth.limits import RegistrationLimiter, SignInLimiter
from hajatek_mcp.server.oauth.provider import READ, SCOPES, WRITE, HajatekOAuthProvider
from hajatek_mcp.server.oauth.registration import registration_route
from hajatek_mcp.server.oauth.store import SCHEMA as OAUTH_SCHEMA
from hajatek_mcp.server.oauth.store import OAuthStore
from hajatek_mcp.server.options import ExternalIssuer

if TYPE_CHECKING:
    from hajatek_mcp.server.oauth.connect import StoreConnector

__all__ = ["READ", "SCOPES", "WRITE", "ExternalOAuth", "OAuthSetup", "OAuthStore"]


class OAuthSetup:
    """Everything the built-in authorization server needs: its store, the provider, settings and consent routes.

    ``oauth.db`` and the OAuth server's audit log are opened here (the SDK needs the provider when the server is
    built), so they live as long as the server, not a session: whoever runs the server calls :meth:`close` once it
    has stopped. ``state``: a :class:`StateBackend` (the data dir or PostgreSQL), a data dir, or None (in memory).
    The limits on registration and on consent sign-ins live in memory, per process (:mod:`.limits`), on ``clock``.

    One store: the consent page asks the admin ``passphrase``. Several (``connector``, a multi-tenant server): it asks
    the merchant for their store id and API key instead, checked live, and the grant belongs to that store.
    """

    def __init__(
        self,
        issuer: str,
        passphrase: SecretStr | None,
        state: StateBackend | Path | None,
        *,
        clock: Callable[[], float],
        connector: StoreConnector | None = None,
    ) -> None:
        if (passphrase is None) == (connector is None):
            raise ValueError("the consent page needs either the admin passphrase or, multi-tenant, a store connector")
        issuer = issuer.rstrip("/")
        if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("the OAuth issuer must be an https:// URL (http only for 127.0.0.1 or localhost)")
        self.resource = f"{issuer}/mcp"
        backend = state if isinstance(state, StateBackend) else StateBackend(state)
        self.store = OAuthStore(backend.open("oauth.db", OAUTH_SCHEMA), clock=clock)
        # The OAuth server is this server's, not a store's: its entries (oauth.*) carry no store id.
        self.audit = AuditLog(backend.open("audit.db", AUDIT_SCHEMA), store_id="", clock=clock)
        self.provider = HajatekOAuthProvider(self.store, issuer=issuer, resource=self.resource, audit=self.audit)
        registration = ClientRegistrationOptions(enabled=True, valid_scopes=list(SCOPES), default_scopes=[READ])
        self.settings = AuthSettings(
            issuer_url=AnyHttpUrl(issuer),
            resource_server_url=AnyHttpUrl(self.resource),
            required_scopes=[READ],
            client_registration_options=registration,
            revocation_options=RevocationOptions(enabled=True),
            validate_token_resource=True,
        )
        self.registrations = RegistrationLimiter(clock=clock)
        self.signins = SignInLimiter(clock=clock)
        if connector is not None:
            from hajatek_mcp.server.oauth.connect import connect_routes  # noqa: PLC0415  # multi-tenant only

            consent = connect_routes(self.provider, connector, self.signins)
        else:
            assert passphrase is not None  # noqa: S101  # checked above
            consent = consent_routes(self.provider, passphrase, self.signins)
        self.routes: list[BaseRoute] = [
            registration_route(self.provider, registration, self.registrations),  # before the SDK's own /register
            *consent,
        ]

    @property
    def server_arguments(self) -> dict[str, Any]:
        return {"auth": self.settings, "auth_server_provider": self.provider}

    def close(self) -> None:
        """Close ``oauth.db`` and the audit log; call it once the server has stopped serving."""
        try:
            self.store.close()
        finally:
            self.audit.close()


class ExternalOAuth:
    """Resource-server-only mode: tokens come from an external issuer and are checked by introspection."""

    def __init__(self, public_url: str, external: ExternalIssuer) -> None:
        self.resource = f"{public_url.rstrip('/')}/mcp"
        self.verifier = IntrospectionVerifier(
            external.introspection_url,
            client_id=external.client_id,
            client_secret=external.client_secret,
            resource=self.resource,
        )
        self.settings = AuthSettings(
            issuer_url=AnyHttpUrl(external.issuer),
            resource_server_url=AnyHttpUrl(self.resource),
            required_scopes=[READ],
            validate_token_resource=True,
        )
        self.routes: list[BaseRoute] = []

    @property
    def server_arguments(self) -> dict[str, Any]:
        return {"auth": self.settings, "token_verifier": self.verifier}

    def close(self) -> None:
        """Nothing to close: introspection keeps no files."""
