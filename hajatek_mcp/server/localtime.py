"""The store's local time: its zone, its "now", its calendar (a Saudi week starts on Sunday), and the tools' bounds.

The zone is the store's ``timezone`` (``GET /stores/{id}``, e.g. ``Asia/Riyadh``), loaded with :mod:`zoneinfo`.
Some machines (Windows without the ``tzdata`` package) have no time zone database: a zone without daylight saving
time is then taken at its fixed offset (:data:`FIXED_OFFSETS`: Asia/Riyadh and the other Gulf zones are +03:00 or
+04:00 all year), any other as UTC, and :attr:`StoreZone.note` says so. The store's timezone rarely changes, so
:class:`ZoneCache` keeps it per store id for :data:`ZONE_TTL` seconds.

A tool's ``since``/``until`` (:data:`LocalBound`) is read by :func:`parse_bound`: a date ``YYYY-MM-DD`` is a whole
local day (``since``: its local midnight; ``until``: through the end of that day), a time with an offset or ``Z``
is exact, and a time without an offset is the store's local time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from hajatek_mcp.api import HajatekClient
from hajatek_mcp.server.safety import quote

__all__ = [
    "FIXED_OFFSETS",
    "WEEK_STARTS",
    "ZONES",
    "ZONE_TTL",
    "LocalBound",
    "StoreZone",
    "ZoneCache",
    "day_of",
    "local_iso",
    "parse_bound",
    "week_of",
    "zone_named",
]

#: The first day of a week in this server's reports: the Saudi week runs Sunday to Saturday.
WEEK_STARTS = "Sunday"
#: How long (seconds) a store's timezone is reused before it is read again.
ZONE_TTL = 3600.0
#: Zones with one offset all year (no daylight saving time): used when this machine cannot load them.
FIXED_OFFSETS: dict[str, timedelta] = {
    **dict.fromkeys(("Asia/Riyadh", "Asia/Kuwait", "Asia/Bahrain", "Asia/Qatar", "Asia/Aden"), timedelta(hours=3)),
    "Asia/Baghdad": timedelta(hours=3),
    **dict.fromkeys(("Asia/Dubai", "Asia/Muscat"), timedelta(hours=4)),
    **dict.fromkeys(("UTC", "Etc/UTC", "GMT", "Etc/GMT", "Z"), timedelta(0)),
}

LocalBound = Annotated[
    str,
    Field(max_length=40, description="YYYY-MM-DD (a whole local day) or ISO time, store-local unless offset"),
]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_END_OF_DAY = timedelta(days=1, microseconds=-1)


@dataclass(frozen=True)
class StoreZone:
    """The store's time zone as this server applies it."""

    name: str
    """The zone's name as the store gives it (or ``UTC`` when it gives none)."""
    tz: tzinfo
    note: str | None = None
    """Set when the zone could not be applied as named: what was used instead."""


def _offset(delta: timedelta) -> str:
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def zone_named(name: str | None, *, load: Callable[[str], tzinfo] = ZoneInfo) -> StoreZone:
    """The zone called ``name``: from the time zone database (``load``), else its fixed offset, else UTC."""
    if not name:
        return StoreZone("UTC", UTC, "the store gives no timezone: times are UTC")
    try:
        return StoreZone(name, load(name))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    fixed = FIXED_OFFSETS.get(name)
    if fixed is not None:
        note = f"no time zone database on this server: {name} taken as UTC{_offset(fixed)} (it has no daylight saving)"
        return StoreZone(name, timezone(fixed, name), note)
    return StoreZone(name, UTC, f"unknown timezone {quote(name, 40)}: times are UTC")


class ZoneCache:
    """Each store's zone, by store id, read with ``GET /stores/{id}`` at most once per ``ttl`` seconds."""

    def __init__(self, ttl: float = ZONE_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._zones: dict[str, tuple[float, StoreZone]] = {}

    def put(self, store_id: str, timezone_name: str | None) -> StoreZone:
        """Remember the zone just read for ``store_id`` (get_store reads the store anyway) and return it."""
        zone = zone_named(timezone_name)
        self._zones[store_id] = (self._clock() + self.ttl, zone)
        return zone

    async def get(self, client: HajatekClient) -> StoreZone:
        """The zone of ``client``'s store: remembered, or read now."""
        key = client.store_id or ""
        known = self._zones.get(key)
        if known is not None and self._clock() < known[0]:
            return known[1]
        store = await client.get_store()
        return self.put(key, store.timezone)


#: The zones of the stores this process serves.
ZONES = ZoneCache()


def parse_bound(text: str, zone: tzinfo, *, end: bool) -> datetime:
    """``since`` (``end=False``) or ``until`` (``end=True``, inclusive) as an aware datetime.

    A date is a whole local day: its local midnight, or (``end``) the last instant of that day. A time with an
    offset or ``Z`` is exact; without one, it is local time in ``zone``. Raises ValueError with what to write.
    """
    text = text.strip()
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{quote(text, 40)} is no calendar date: write YYYY-MM-DD, e.g. 2026-11-22") from None
        try:
            midnight = _local_midnight(day, zone)
            return midnight + _END_OF_DAY if end else midnight
        except OverflowError:
            raise ValueError(f"{quote(text, 40)} is out of range: give a date between 0002 and 9998") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{quote(text, 40)} is neither a date (YYYY-MM-DD) nor an ISO time (2026-11-27T15:00, with +03:00 or Z "
            "for an exact instant, without for store time)"
        ) from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    """The first instant of ``day`` in ``zone`` (normalised through UTC, in case midnight falls in a DST gap)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC).astimezone(zone)


def local_iso(moment: datetime, zone: tzinfo) -> str:
    """``moment`` as local ISO time with its offset, whole seconds: ``2026-11-27T15:00:00+03:00``."""
    return moment.astimezone(zone).replace(microsecond=0).isoformat()


def day_of(moment: datetime, zone: tzinfo) -> date:
    """The local calendar day of ``moment``."""
    return moment.astimezone(zone).date()


def week_of(day: date) -> date:
    """The Sunday that starts the (Saudi) week of ``day``."""
    return day - timedelta(days=(day.weekday() + 1) % 7)
