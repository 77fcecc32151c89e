"""The command line of multi-tenant mode: what it refuses at start, and the operator's ``tenants`` and ``keys``.

``keys rotate`` is checked the way an operator relies on it: stores connected under the old master key, rotated
with ``new,old``, then read (and used against the sandbox) with the new key alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from pydantic import SecretStr

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.cli import main
from hajatek_mcp.commandline import ExitCode
from hajatek_mcp.sandbox import InProcessTransport, SandboxConfig, create_multi_app, multi_store_configs
from hajatek_mcp.server.oauth.store import Grant, OAuthStore
from hajatek_mcp.server.tenants import MasterKeys, TenantStore, UndecryptableError

OLD, NEW = MasterKeys.generate(), MasterKeys.generate()
KEYS = {"str_sandbox": "sk_sandbox_pro", "str_sandbox2": "sk_sandbox2_pro"}
SECRET = "whsec-canary-7f3e9"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("HAJATEK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HAJATEK_DATA_DIR", str(tmp_path))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def connect_stores(data_dir: Path, master: str) -> None:
    async def connect() -> None:
        store = TenantStore(data_dir / "tenants.db", MasterKeys.parse(master))
        try:
            for store_id, key in KEYS.items():
                await store.connect(store_id, f"Shop {store_id}", "pro", SecretStr(key), SecretStr(SECRET))
        finally:
            store.close()

    anyio.run(connect)


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"HAJATEK_API_KEY": "sk_live_x"}, "HAJATEK_API_KEY"),
        ({"HAJATEK_STORE_ID": "str_mine"}, "HAJATEK_STORE_ID"),
        ({"HAJATEK_OAUTH_PASSPHRASE": "a long passphrase"}, "HAJATEK_OAUTH_PASSPHRASE"),
        ({"HAJATEK_SANDBOX": "true"}, "--sandbox"),
        ({"HAJATEK_OAUTH_ISSUER": ""}, "HAJATEK_OAUTH_ISSUER"),
        ({"HAJATEK_MASTER_KEY": ""}, "HAJATEK_MASTER_KEY"),
        ({"HAJATEK_MASTER_KEY": "not-a-key"}, "HAJATEK_MASTER_KEY"),
    ],
)
def test_multi_tenant_mode_refuses_to_start_with_one_line(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variables: dict[str, str],
    named: str,
) -> None:
    monkeypatch.setenv("HAJATEK_MASTER_KEY", NEW)
    monkeypatch.setenv("HAJATEK_OAUTH_ISSUER", "http://127.0.0.1:9")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    code, out, err = run(capsys, "serve", "--transport", "streamable-http", "--multi-tenant", "--port", "9")
    assert code == ExitCode.CONFIGURATION
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert named in err
    assert "sk_live_x" not in err
    assert "not-a-key" not in err
    assert NEW not in err


def test_multi_tenant_mode_is_not_served_on_stdio(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HAJATEK_MASTER_KEY", NEW)
    monkeypatch.setenv("HAJATEK_OAUTH_ISSUER", "http://127.0.0.1:9")
    code, _, err = run(capsys, "--multi-tenant")
    assert code == ExitCode.CONFIGURATION
    assert "--transport streamable-http" in err


def test_keys_generate_prints_a_usable_master_key(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "keys", "generate")
    assert code == ExitCode.OK
    key = out.strip()
    assert MasterKeys.parse(key).key_ids
    assert key != run(capsys, "keys", "generate")[1].strip()


def test_keys_rotate_keeps_every_store_working(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connect_stores(env, OLD)
    monkeypatch.setenv("HAJATEK_MASTER_KEY", f"{NEW},{OLD}")
    code, out, err = run(capsys, "keys", "rotate")
    assert code == ExitCode.OK, err
    assert "Re-encrypted 2 stores" in out

    async def use_with_new_key_alone() -> list[str]:
        store = TenantStore(env / "tenants.db", MasterKeys.parse(NEW))
        app = create_multi_app(multi_store_configs(2, SandboxConfig()))
        seen = []
        try:
            async with app.state.sandbox:
                for store_id in KEYS:
                    credentials = await store.credentials(store_id)
                    assert credentials is not None
                    assert credentials.webhook_secret is not None
                    assert credentials.webhook_secret.get_secret_value() == SECRET
                    async with HajatekClient(
                        credentials.api_key, store_id=store_id, base_url="http://sandbox/v1",
                        transport=InProcessTransport(app),
                    ) as client:  # fmt: skip
                        seen.append((await client.get_store()).id)
        finally:
            store.close()
        return seen

    assert anyio.run(use_with_new_key_alone) == list(KEYS)


def test_a_store_under_a_dropped_key_is_named(env: Path) -> None:
    connect_stores(env, OLD)

    async def read() -> None:
        store = TenantStore(env / "tenants.db", MasterKeys.parse(NEW))
        try:
            await store.credentials("str_sandbox")
        finally:
            store.close()

    with pytest.raises(UndecryptableError, match=r"str_sandbox/api_key .* add the old key back"):
        anyio.run(read)


def test_tenants_list_and_show_print_no_secret(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connect_stores(env, OLD)
    monkeypatch.setenv("HAJATEK_MASTER_KEY", OLD)
    code, listed, _ = run(capsys, "tenants", "list")
    assert code == ExitCode.OK
    assert "str_sandbox " in listed
    assert "str_sandbox2 " in listed
    code, shown, _ = run(capsys, "tenants", "show", "str_sandbox2")
    assert code == ExitCode.OK
    assert "Shop str_sandbox2" in shown
    assert "signing secret kept" in shown
    for output in (listed, shown):
        assert not any(key in output for key in (*KEYS.values(), SECRET, OLD))
    code, _, err = run(capsys, "tenants", "show", "str_nobody")
    assert code == ExitCode.FAILED
    assert "str_nobody" in err


def test_tenants_disconnect_revokes_the_stores_tokens_and_deletes_its_key(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connect_stores(env, OLD)
    monkeypatch.setenv("HAJATEK_MASTER_KEY", OLD)

    async def grant(token: str, store_id: str) -> None:
        oauth = OAuthStore(env / "oauth.db")
        try:
            await oauth.add_token(token, Grant("access", f"grt_{store_id}", "app", ["store.read"], None, store_id, 9e9))
        finally:
            oauth.close()

    async def token_alive(token: str) -> bool:
        oauth = OAuthStore(env / "oauth.db")
        try:
            return await oauth.token(token, "access") is not None
        finally:
            oauth.close()

    anyio.run(grant, "hjk_at_a", "str_sandbox")
    anyio.run(grant, "hjk_at_b", "str_sandbox2")
    code, out, err = run(capsys, "tenants", "disconnect", "str_sandbox2")
    assert code == ExitCode.OK, err
    assert "1 tokens revoked" in out
    assert not anyio.run(token_alive, "hjk_at_b")
    assert anyio.run(token_alive, "hjk_at_a")  # another store's grant stands
    _, listed, _ = run(capsys, "tenants", "list")
    assert "str_sandbox2" not in listed
    assert "str_sandbox " in listed
    assert b"sk_sandbox2_pro" not in (env / "tenants.db").read_bytes()


def test_doctor_says_whether_every_store_is_readable_under_the_master_keys(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connect_stores(env, OLD)
    monkeypatch.setenv("HAJATEK_MULTI_TENANT", "true")
    monkeypatch.setenv("HAJATEK_OAUTH_ISSUER", "https://mcp.example.com")
    monkeypatch.setenv("HAJATEK_MASTER_KEY", NEW)
    code, out, _ = run(capsys, "doctor")
    assert code == 1
    assert "2 stores encrypted under a master key not in HAJATEK_MASTER_KEY (str_sandbox, str_sandbox2)" in out
    monkeypatch.setenv("HAJATEK_MASTER_KEY", f"{NEW},{OLD}")
    code, out, _ = run(capsys, "doctor")
    assert code == 0, out
    assert "still under an older master key: run `hajatek-mcp keys rotate`" in out
    assert run(capsys, "keys", "rotate")[0] == ExitCode.OK
    code, out, _ = run(capsys, "doctor")
    assert code == 0, out
    assert "WARN" not in out
    assert "2 stores connected, every one readable" in out
    assert NEW not in out
    assert OLD not in out
