"""Rate limits for the two doors anyone can knock on: client registration and the consent passphrase.

State is kept **in memory, in this process**: a restart forgets it (an attacker gains one fresh budget per restart),
and several worker processes would each keep their own; ``hajatek-mcp serve`` runs one. Memory stays small: a key is
dropped once its window has passed, and the limits for all addresses together bound how many keys a window can hold.

Who knocks is the TCP peer as the ASGI server reports it (Starlette's ``request.client.host``, :func:`client_address`).
Behind a reverse proxy that is the proxy, so everyone behind it shares one budget, unless the ASGI server rewrites the
peer from the proxy's forwarded header itself: uvicorn does, for connections from its ``forwarded_allow_ips`` (by
default 127.0.0.1 and ::1, a proxy on the same machine). Nothing here reads ``X-Forwarded-For``: anyone can write it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from starlette.requests import Request

__all__ = ["Refusal", "RegistrationLimiter", "SignInLimiter", "client_address"]

_EVERYONE: Final = "*"  # the key for limits over all addresses together (no peer address is "*")


def client_address(request: Request) -> str:
    """The TCP peer of ``request`` as the ASGI server reports it; behind a proxy, the proxy (module docstring)."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Refusal:
    """Not now: the door opens again at ``until`` (a time of the injected clock)."""

    until: float
    scope: Literal["address", "server"]
    """``address``: this client address is held back; ``server``: every address is."""
    lockout: bool
    """A lock-out window, rather than a short delay after a few failures."""

    def retry_after(self, now: float) -> int:
        """Whole seconds to wait, at least 1 (the ``Retry-After`` header)."""
        return max(1, math.ceil(self.until - now))


class _Recent:
    """Event times within a sliding window of ``window`` seconds: the last ``per_address`` of each address, and the
    last ``overall`` of all addresses together (key ``*``); nothing older is needed to decide."""

    def __init__(self, window: float, *, per_address: int, overall: int) -> None:
        self.window, self.per_address, self.overall = window, per_address, overall
        self._seen: dict[str, deque[float]] = {}

    def get(self, key: str, now: float) -> deque[float]:
        events = self._seen.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def add(self, key: str, now: float) -> int:
        """Record one event; returns how many of ``key``'s events the window holds now (at most what is kept)."""
        self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - self.window}  # forget the stale
        keep = self.overall if key == _EVERYONE else self.per_address
        self._seen.setdefault(key, deque(maxlen=keep)).append(now)
        return len(self.get(key, now))

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)


#: ``POST /register`` attempts a minute from one address, and from all addresses together.
REGISTRATIONS_PER_ADDRESS: Final = 20
REGISTRATIONS_OVERALL: Final = 60
REGISTRATION_WINDOW: Final = 60.0


class RegistrationLimiter:
    """``POST /register``: at most 20 attempts a minute from one address and 60 a minute from all together."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        per_address: int = REGISTRATIONS_PER_ADDRESS,
        overall: int = REGISTRATIONS_OVERALL,
        window: float = REGISTRATION_WINDOW,
    ) -> None:
        self.clock = clock
        self._attempts = _Recent(window, per_address=per_address, overall=overall)

    def admit(self, address: str) -> Refusal | None:
        """Count one attempt from ``address``, or say until when it must wait (a refused attempt is not counted)."""
        now = self.clock()
        refusals = [
            Refusal(recent[0] + self._attempts.window, "server" if key == _EVERYONE else "address", lockout=False)
            for key, limit in ((address, self._attempts.per_address), (_EVERYONE, self._attempts.overall))
            if len(recent := self._attempts.get(key, now)) >= limit
        ]
        if refusals:
            return max(refusals, key=lambda refusal: refusal.until)
        self._attempts.add(address, now)
        self._attempts.add(_EVERYONE, now)
        return None


#: Wrong consent passphrases: from one address within the window, the one that locks it out, for how long.
SIGNIN_WINDOW: Final = 15 * 60.0
SIGNIN_FAILURES_PER_ADDRESS: Final = 5
SIGNIN_LOCKOUT: Final = 15 * 60.0
#: From all addresses together within the window, the one that pauses sign-in for everyone, for how long.
SIGNIN_FAILURES_OVERALL: Final = 50
SIGNIN_OVERALL_LOCKOUT: Final = 5 * 60.0


def signin_delay(failures: int) -> float:
    """Seconds the next attempt from an address waits after its ``failures``-th wrong passphrase in the window.

    The first costs nothing (a typo); then 2, 4 and 8 seconds; the fifth locks the address out instead.
    """
    return 0.0 if failures < 2 else 2.0 ** (failures - 1)


class SignInLimiter:
    """Wrong consent passphrases, counted per client address and for the whole server.

    From one address: after the 2nd, 3rd and 4th wrong passphrase within 15 minutes the next attempt waits
    (:func:`signin_delay`); the 5th locks the address out for 15 minutes. From all addresses together: the 50th wrong
    passphrase within 15 minutes pauses sign-in for everyone for 5 minutes (short, because an attacker can cause it).
    While held back, every attempt is refused, the right passphrase too (it is not even compared), and a refused
    attempt counts as nothing. The right passphrase forgets its address's failures.
    """

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._failures = _Recent(
            SIGNIN_WINDOW, per_address=SIGNIN_FAILURES_PER_ADDRESS, overall=SIGNIN_FAILURES_OVERALL
        )
        self._held: dict[str, Refusal] = {}

    def refusal(self, address: str) -> Refusal | None:
        """Why a sign-in from ``address`` may not be tried now (the later of its own wait and the server's), or None."""
        now = self.clock()
        held = [r for r in (self._held.get(address), self._held.get(_EVERYONE)) if r is not None and r.until > now]
        return max(held, key=lambda refusal: refusal.until) if held else None

    def failure(self, address: str) -> tuple[int, Refusal | None]:
        """Record a wrong passphrase from ``address``: its failures in the window, and the wait it faces now."""
        now = self.clock()
        self._held = {key: refusal for key, refusal in self._held.items() if refusal.until > now}
        failures = self._failures.add(address, now)
        if failures >= SIGNIN_FAILURES_PER_ADDRESS:
            self._held[address] = Refusal(now + SIGNIN_LOCKOUT, "address", lockout=True)
        elif delay := signin_delay(failures):
            self._held[address] = Refusal(now + delay, "address", lockout=False)
        if self._failures.add(_EVERYONE, now) >= SIGNIN_FAILURES_OVERALL:
            self._held[_EVERYONE] = Refusal(now + SIGNIN_OVERALL_LOCKOUT, "server", lockout=True)
        return failures, self.refusal(address)

    def success(self, address: str) -> None:
        """The right passphrase from ``address``: its failures are forgotten (the server's count stays)."""
        self._failures.forget(address)
        self._held.pop(address, None)
