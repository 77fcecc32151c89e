"""One sandbox process serving several stores (``hajatek-mcp sandbox --stores N``), to test store isolation for real.

The Hajatek API knows the store from the API key: ``/v1/products`` names no store. So does this app.
:func:`multi_store_configs` derives N store configs from one (store 1 is the demo store as it is; store k is
``str_sandbox{k}`` with keys ``sk_sandbox{k}_{plan}``, ids tagged ``s{k}_``, its own seed, name and database), and
:func:`create_multi_app` serves them all on one address:

- under ``/v1`` a request goes to the store whose keys hold its Bearer key; a missing or unknown key is 401 in the
  gateway's envelope, naming no store's keys;
- ``/_sandbox/stores/{store_id}/…`` is that store's admin API (``/_sandbox/…`` on it); ``/_sandbox/…`` is store 1's;
- anything else goes to store 1, whose gateway answers it as a single sandbox does.

Each store is a whole single sandbox (:func:`~hajatek_mcp.sandbox.app.create_app`): its own database, rate limits per
key, faults, webhooks (signed with its own secret, ``store_id`` in every payload) and activity. ``app.state.stores``
maps each store id to its app (``app.state.stores[id].state.sandbox`` is its state), ``app.state.configs`` lists the
configs in order, and ``app.state.sandbox`` is a :class:`SandboxGroup`: ``async with app.state.sandbox`` starts and
stops every store, as for a single sandbox, and :class:`~hajatek_mcp.sandbox.webhooks.InProcessTransport` works on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .app import create_app
from .config import SandboxConfig
from .core import Sandbox
from .gateway import ADMIN_PREFIX, API_PREFIX, bearer, send_error, under
from .seed_data import STORE_NAMES
from .values import request_id

__all__ = ["MAX_STORES", "SandboxGroup", "create_multi_app", "multi_store_configs"]

MAX_STORES = 50
STORES_PREFIX = ADMIN_PREFIX + "/stores/"


def multi_store_configs(
    count: int, base: SandboxConfig, *, webhook_secrets: Mapping[str, str] | None = None
) -> list[SandboxConfig]:
    """``count`` store configs from ``base``: store 1 is ``base``; store k (2..count) is ``str_sandbox{k}``, keys
    ``sk_sandbox{k}_{plan}`` for each plan of ``base``'s keys, ids tagged ``s{k}_``, seed ``base.seed + k - 1`` (its
    data differs), a name of its own, and for a database file ``name-{k}.db`` beside ``base``'s (``":memory:"``
    stays). Everything else (time, clock, limits, activity, admin switch) is ``base``'s.

    A ``{store_id}`` in ``base.webhook_url`` becomes each store's id (store 1's too), so one receiver can tell the
    stores apart by path. Webhooks are signed with ``webhook_secrets[store_id]`` when it is given, else with
    ``base.webhook_secret``: one secret for all is handy locally, but a platform gives each store its own, and a
    receiver should check each store's deliveries against that store's secret.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_STORES:
        raise ValueError(f"the sandbox serves 1 to {MAX_STORES} stores (got {count!r})")
    secrets = dict(webhook_secrets or {})
    plans = list(dict.fromkeys(base.api_keys.values()))
    configs = []
    for k in range(1, count + 1):
        if k == 1:
            config = base
        else:
            config = dataclasses.replace(
                base,
                store_id=f"str_sandbox{k}",
                api_keys={f"sk_sandbox{k}_{plan}": plan for plan in plans},
                id_tag=f"s{k}_",
                seed=base.seed + k - 1,
                store_name=_store_name(k)[0],
                store_name_ar=_store_name(k)[1],
                db_path=_db_path(base.db_path, k),
            )
        configs.append(_with_webhooks(config, secrets.pop(config.store_id, None)))
    if secrets:
        raise ValueError(f"webhook_secrets names stores this sandbox does not serve: {', '.join(sorted(secrets))}")
    return configs


def _store_name(k: int) -> tuple[str, str]:
    """The name of store ``k`` >= 2: the list in order, then again with a number (``Dar Al-Oud 2``)."""
    lap, index = divmod(k - 2, len(STORE_NAMES))
    name, name_ar = STORE_NAMES[index]
    return (name, name_ar) if lap == 0 else (f"{name} {lap + 1}", f"{name_ar} {lap + 1}")


def _db_path(db_path: str, k: int) -> str:
    if db_path == ":memory:":
        return db_path
    path = Path(db_path)
    return str(path.with_name(f"{path.stem}-{k}{path.suffix}"))


def _with_webhooks(config: SandboxConfig, secret: str | None) -> SandboxConfig:
    url = config.webhook_url
    if url is not None and "{store_id}" in url:
        url = url.replace("{store_id}", config.store_id)
    if url == config.webhook_url and secret is None:
        return config
    return dataclasses.replace(config, webhook_url=url, webhook_secret=secret or config.webhook_secret)


class SandboxGroup:
    """The sandboxes of every store, started and stopped together, as one :class:`~hajatek_mcp.sandbox.core.Sandbox`
    would be: ``async with group``, :meth:`start`, :meth:`aclose`, :meth:`settle`."""

    def __init__(self, sandboxes: Mapping[str, Sandbox]) -> None:
        self.sandboxes = dict(sandboxes)
        """Each store's sandbox by store id, store 1 first."""

    def start(self) -> None:
        """Start every store's webhook resumption and activity (needs a running event loop). Idempotent."""
        for sandbox in self.sandboxes.values():
            sandbox.start()

    async def settle(self) -> None:
        """Wait until every store's deliveries started so far have made their first attempt."""
        for sandbox in self.sandboxes.values():
            await sandbox.settle()

    async def aclose(self) -> None:
        """Stop every store (activity, deliveries, database), each even when closing another failed. Idempotent."""
        failures = []
        for sandbox in self.sandboxes.values():
            try:
                await sandbox.aclose()
            except Exception as exc:  # the others must close too; the first failure is raised below
                failures.append(exc)
        if failures:
            raise failures[0]

    async def __aenter__(self) -> SandboxGroup:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _check_unique(configs: Sequence[SandboxConfig]) -> None:
    """Store ids, API keys and database files are each one store's. Errors name stores, never a key."""
    if not configs:
        raise ValueError("create_multi_app needs at least one store config")
    stores: set[str] = set()
    owners: dict[str, tuple[str, str]] = {}
    files: dict[str, str] = {}
    for config in configs:
        if config.store_id in stores:
            raise ValueError(f"store id {config.store_id} is given twice; each store needs its own")
        stores.add(config.store_id)
        for key, plan in config.api_keys.items():
            if key in owners:
                owner, owner_plan = owners[key]
                raise ValueError(
                    f"an API key of store {config.store_id} ({plan}) is also one of store {owner} ({owner_plan});"
                    " the key picks the store, so each key must be one store's"
                )
            owners[key] = (config.store_id, plan)
        if config.db_path != ":memory:":
            resolved = str(Path(config.db_path).resolve())
            if resolved in files:
                raise ValueError(f"stores {files[resolved]} and {config.store_id} share the file {config.db_path}")
            files[resolved] = config.store_id


class StoreRouter:
    """ASGI middleware that hands each HTTP request to its store's app (see the module docstring); lifespan and
    anything not HTTP go on to the wrapped app."""

    def __init__(self, app: ASGIApp, stores: Mapping[str, Starlette], keys: Mapping[str, str]) -> None:
        self.app = app
        self.stores = stores
        self.keys = keys  # API key -> store id
        self.first = next(iter(stores.values()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(STORES_PREFIX):
            await self._admin(scope, receive, send)
            return
        if not under(path, API_PREFIX):
            await self.first(scope, receive, send)
            return
        key = bearer(scope)
        store_id = self.keys.get(key) if key is not None else None
        if store_id is None:
            if key is None:
                message = "Missing API key: send 'Authorization: Bearer <key>' with the key of one of the stores."
            else:
                message = "Unknown API key; each store of this sandbox has its own keys (its banner lists them)."
            await _refuse(send, 401, message)
            return
        await self.stores[store_id](scope, receive, send)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``/_sandbox/stores/{store_id}/rest`` → ``/_sandbox/rest`` on that store."""
        store_id, slash, rest = scope["path"].removeprefix(STORES_PREFIX).partition("/")
        store = self.stores.get(store_id)
        if store is None:
            known = ", ".join(self.stores)
            await _refuse(send, 404, f"No store {store_id} in this sandbox; its stores are {known}.")
            return
        path = ADMIN_PREFIX + slash + rest
        await store({**scope, "path": path, "raw_path": path.encode()}, receive, send)


async def _refuse(send: Send, status: int, message: str) -> None:
    rid = request_id()
    await send_error(send, status, message, rid, headers={"X-Request-Id": rid})


def create_multi_app(configs: Sequence[SandboxConfig]) -> Starlette:
    """One app serving every store of ``configs`` (store 1 first; see the module docstring). Opens and, when empty,
    seeds each store's database. Store ids, API keys and database files must be unique (``ValueError`` names the
    duplicate)."""
    _check_unique(configs)
    stores: dict[str, Starlette] = {}
    try:
        for config in configs:
            stores[config.store_id] = create_app(config)
    except BaseException:
        for opened in stores.values():
            opened.state.sandbox.store.close()
        raise
    group = SandboxGroup({store_id: store.state.sandbox for store_id, store in stores.items()})
    keys = {key: config.store_id for config in configs for key in config.api_keys}

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with group:
            yield

    app = Starlette(middleware=[Middleware(StoreRouter, stores=stores, keys=keys)], lifespan=lifespan)
    app.state.sandbox = group
    app.state.stores = stores
    app.state.configs = tuple(configs)
    return app
