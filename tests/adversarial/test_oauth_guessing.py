"""Issue #14, finding 3: the consent passphrase cannot be guessed without limit.

The five-tries limit of one consent request was no limit: anyone can register a client and open fresh requests, and
200 wrong guesses took 2.4 s. These tests guess as that attacker did, over HTTP against the real server app (the
``/register`` and ``/authorize`` endpoints, the consent page, the HTTP guard), each request from a chosen client
address, on an injected clock: nothing sleeps.
"""

from __future__ import annotations

import json
import logging

import pytest

from tests.adversarial.support import ATTACKER, MERCHANT, PASSPHRASE, OAuthServer


async def test_two_hundred_quick_guesses_across_fresh_consent_requests_get_two_answers(
    oauth_server: OAuthServer,
) -> None:
    async with oauth_server.visitor(ATTACKER) as attacker:
        client_id = await attacker.client_id()
        answers = [await attacker.sign_in(await attacker.consent(client_id), f"guess-{n}") for n in range(200)]
    assert [a.status_code for a in answers[:2]] == [401, 401]
    assert sum("Wrong passphrase" in a.text for a in answers) == 2
    assert {a.status_code for a in answers[2:]} == {429}
    assert {a.headers["retry-after"] for a in answers[2:]} == {"2"}
    assert all("try again in 2 seconds (at 03:00:02 UTC)" in a.text for a in answers[2:])


async def test_an_attacker_who_waits_out_the_delays_is_locked_out_even_with_the_right_passphrase(
    oauth_server: OAuthServer,
) -> None:
    clock = oauth_server.clock
    async with oauth_server.visitor(ATTACKER) as attacker:
        client_id = await attacker.client_id()
        waits = []
        for n in range(4):
            answer = await attacker.sign_in(await attacker.consent(client_id), f"guess-{n}")
            assert answer.status_code == 401
            waits.append(answer.headers.get("retry-after"))
            clock.now += float(answer.headers.get("retry-after", 0))
        assert waits == [None, "2", "4", "8"]  # the first mistake is free, then the waits grow
        fifth = await attacker.sign_in(await attacker.consent(client_id), "guess-4")
        right = await attacker.sign_in(await attacker.consent(client_id), PASSPHRASE)
        clock.now += 14 * 60
        still = await attacker.sign_in(await attacker.consent(client_id), PASSPHRASE)
        clock.now += 60
        after = await attacker.sign_in(await attacker.consent(client_id), PASSPHRASE)
    assert fifth.status_code == 429
    assert "Too many wrong passphrases from this address: try again in 15 minutes (at 03:16 UTC)." in fifth.text
    assert right.status_code == 429  # the lock-out holds for the right passphrase too
    assert right.headers["retry-after"] == "900"
    assert "try again in 15 minutes (at 03:16 UTC)" in right.text
    assert 'name="passphrase"' in right.text  # the page stays, to try again later
    assert still.status_code == 429
    assert "try again in 1 minute (at 03:16 UTC)" in still.text
    assert after.status_code == 303
    assert "code=" in after.headers["location"]


async def test_guesses_from_fifty_addresses_pause_sign_in_for_everyone_for_five_minutes(
    oauth_server: OAuthServer,
) -> None:
    async with oauth_server.visitor(MERCHANT) as merchant:
        client_id = await merchant.client_id()
    statuses = []
    for n in range(50):
        async with oauth_server.visitor(f"203.0.113.{n + 1}") as guesser:
            statuses.append((await guesser.sign_in(await guesser.consent(client_id), "guess")).status_code)
    async with oauth_server.visitor(MERCHANT) as merchant:
        paused = await merchant.sign_in(await merchant.consent(client_id), PASSPHRASE)
        oauth_server.clock.now += 5 * 60
        resumed = await merchant.sign_in(await merchant.consent(client_id), PASSPHRASE)
    assert statuses == [401] * 49 + [429]  # one guess per address: no address is held back on its own
    assert paused.status_code == 429
    assert ("Too many wrong passphrases on this server from all addresses together: try again in 5 minutes "
            "(at 03:05 UTC).") in paused.text  # fmt: skip
    assert resumed.status_code == 303


async def test_each_wrong_passphrase_is_logged_and_audited_with_the_address_never_the_guess(
    oauth_server: OAuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with oauth_server.visitor(ATTACKER) as attacker:
        client_id = await attacker.client_id()
        for guess in ("hunter2-first-guess", "hunter2-second-guess"):
            await attacker.sign_in(await attacker.consent(client_id), guess)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "passphrase" in r.msg]
    entries = await oauth_server.audit(oauth=True)
    assert len(warnings) == 2
    assert all(ATTACKER in w and client_id in w for w in warnings)
    assert [(e["tool"], e["outcome"], e["path"], e["target"]) for e in entries] == [
        ("oauth.signin", "refused", "not_guarded", client_id)
    ] * 2
    assert all(ATTACKER in e["detail"] for e in entries)
    assert "hunter2" not in caplog.text + json.dumps(entries + await oauth_server.audit(oauth=False))
