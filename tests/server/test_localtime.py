"""The store's local time: zones (with and without a time zone database), the tools' since/until, the Saudi week."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest
from starlette.applications import Starlette

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server.localtime import ZoneCache, local_iso, parse_bound, week_of, zone_named
from tests.support import CountingTransport, FakeClock

RIYADH = ZoneInfo("Asia/Riyadh")


def no_database(name: str) -> tzinfo:
    """A zone loader on a machine without a time zone database (Windows without tzdata)."""
    raise ZoneInfoNotFoundError(f"No time zone found with key {name}")


def test_a_zone_the_database_knows_is_used_as_named() -> None:
    zone = zone_named("Asia/Riyadh")
    assert zone.note is None
    assert local_iso(datetime(2026, 11, 27, 12, tzinfo=UTC), zone.tz) == "2026-11-27T15:00:00+03:00"


@pytest.mark.parametrize(("name", "offset"), [("Asia/Riyadh", "+03:00"), ("Asia/Dubai", "+04:00"), ("UTC", "+00:00")])
def test_without_a_time_zone_database_a_zone_without_dst_keeps_its_fixed_offset(name: str, offset: str) -> None:
    zone = zone_named(name, load=no_database)
    assert local_iso(datetime(2026, 6, 1, 21, 30, tzinfo=UTC), zone.tz).endswith(offset)
    assert zone.name == name
    assert zone.note is not None
    assert "no time zone database" in zone.note
    assert offset in zone.note


def test_without_a_time_zone_database_the_fallback_gives_the_same_local_days() -> None:
    fixed = zone_named("Asia/Riyadh", load=no_database).tz
    for hour in range(0, 24 * 8, 5):
        moment = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(hours=hour)
        assert moment.astimezone(fixed).isoformat() == moment.astimezone(RIYADH).isoformat()
    assert parse_bound("2026-11-22", fixed, end=False) == datetime(2026, 11, 21, 21, tzinfo=UTC)


def test_a_zone_nobody_knows_is_utc_and_says_so() -> None:
    zone = zone_named("Mars/Olympus_Mons", load=no_database)
    assert zone.tz.utcoffset(None) == timedelta(0)
    assert zone.note is not None
    assert "unknown timezone" in zone.note
    assert "Olympus" in zone.note
    assert zone_named("Mars/Olympus_Mons").note == zone.note  # the real database does not know it either
    assert zone_named(None).note == "the store gives no timezone: times are UTC"


def test_a_date_is_a_whole_local_day() -> None:
    since = parse_bound("2026-11-26", RIYADH, end=False)
    until = parse_bound("2026-11-26", RIYADH, end=True)
    assert since == datetime(2026, 11, 25, 21, tzinfo=UTC)
    assert until == datetime(2026, 11, 26, 20, 59, 59, 999999, tzinfo=UTC)
    assert local_iso(until, RIYADH) == "2026-11-26T23:59:59+03:00"


def test_a_time_with_an_offset_is_exact_and_one_without_is_store_time() -> None:
    assert parse_bound("2026-11-26T10:00:00Z", RIYADH, end=True) == datetime(2026, 11, 26, 10, tzinfo=UTC)
    assert parse_bound("2026-11-26T10:00+01:00", RIYADH, end=False) == datetime(2026, 11, 26, 9, tzinfo=UTC)
    assert parse_bound("2026-11-26T10:00", RIYADH, end=False) == datetime(2026, 11, 26, 7, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "26/11/2026", "2026-02-30"])
def test_an_unreadable_bound_says_what_to_write(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_bound(text, RIYADH, end=False)


def test_a_week_starts_on_sunday() -> None:
    sunday = date(2026, 11, 22)
    assert sunday.strftime("%A") == "Sunday"
    for offset in range(7):
        assert week_of(sunday + timedelta(days=offset)) == sunday
    assert week_of(sunday - timedelta(days=1)) == date(2026, 11, 15)


@pytest.fixture
async def counted(sandbox_app: Starlette) -> AsyncIterator[tuple[HajatekClient, CountingTransport]]:
    transport = CountingTransport(sandbox_app)
    async with HajatekClient(
        "sk_sandbox_business",
        store_id="str_sandbox",
        base_url="http://sandbox.local/v1",
        plan="business",
        transport=transport,
    ) as client:
        yield client, transport


async def test_the_store_zone_is_read_once_per_ttl(
    counted: tuple[HajatekClient, CountingTransport], clock: FakeClock
) -> None:
    client, transport = counted
    cache = ZoneCache(ttl=60, clock=clock)
    zone = await cache.get(client)
    assert zone.name == "Asia/Riyadh"
    assert zone.note is None
    await cache.get(client)
    assert len(transport.sent) == 1
    clock.now += 61
    await cache.get(client)
    assert len(transport.sent) == 2
