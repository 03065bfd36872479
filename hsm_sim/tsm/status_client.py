"""A relying party's client of the TSM's device status (docs/tsm.md,
"Relying parties"): the tax backend and the acquirer host ask
``GET /v1/devices/{serial}/status`` and ``GET /v1/certs/{cert}/status``
over HTTP with a short timeout and keep the answers for a while.

Caching:

- an ``active`` / ``good`` answer (and ``unknown``) is kept ``ttl`` seconds
  (60 by default), then asked again;
- a ``revoked`` answer is kept for the life of the process: revocation is
  final at the TSM (a revoked device gets no renewal and no new enrolment),
  so a TSM that later goes down cannot make a known revocation be forgotten;
- ``fresh=True`` asks the TSM whatever the cache holds (short of a known
  revocation): for rare, trust-granting checks such as a registration;
- when the TSM cannot be reached (connection refused, timeout, an HTTP
  error, an answer that is not a status), every lookup during the next
  ``retry`` seconds (5 by default) is answered ``unreachable`` at once
  without trying again, so a dead TSM costs one timeout per ``retry``
  window, not one per request.

An ``unreachable`` answer is not a verdict: what it means (refuse or let
through) is the caller's documented policy (docs/tax.md, docs/acquirer.md).
The client is thread-safe (the tax backend's handlers run in a thread pool;
the acquirer calls it through ``asyncio.to_thread``).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

log = logging.getLogger("payterm.tsm_status")

DEVICE_STATUSES = ("active", "revoked", "unknown")
CERT_STATUSES = ("good", "revoked", "expired", "unknown")
UNREACHABLE = "unreachable"
DEFAULT_TTL = 60.0
DEFAULT_TIMEOUT = 2.0
DEFAULT_RETRY = 5.0
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Status:
    """One status: ``status`` is one of the TSM's words or ``unreachable``
    (then ``error`` says why); ``cached`` says it came from the cache;
    ``fields`` is the TSM's whole answer (``public_key``, ``cert_serial``,
    ``revoked_at``, ``reason``…)."""

    subject: str
    status: str
    cached: bool = False
    error: str | None = None
    fields: tuple[tuple[str, object], ...] = ()

    def get(self, name: str) -> object:
        return dict(self.fields).get(name)

    @property
    def reachable(self) -> bool:
        return self.status != UNREACHABLE


class TsmStatusClient:
    """``TsmStatusClient("http://tsm:8480", ttl=60, timeout=2, retry=5)``;
    ``device(serial)`` and ``certificate(cert_serial)`` give a ``Status``.
    ``clock`` (monotonic seconds) is for tests; ``fetches`` counts the HTTP
    requests made (tests check the cache with it)."""

    def __init__(
        self,
        url: str,
        ttl: float = DEFAULT_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        retry: float = DEFAULT_RETRY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        u = urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise ValueError(f"TSM URL must be http://HOST[:PORT], not {url!r}")
        if ttl < 0 or timeout <= 0 or retry < 0:
            raise ValueError("ttl and retry must be >= 0, timeout > 0")
        self.url = url.rstrip("/")
        self.host = u.hostname
        self.port = u.port or 80
        self.base = u.path.rstrip("/")
        self.ttl = ttl
        self.timeout = timeout
        self.retry = retry
        self.clock = clock
        self.fetches = 0
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Status]] = {}  # key -> (expires, status)
        self._down_until = float("-inf")
        self._down_error = ""

    def device(self, serial: str, fresh: bool = False) -> Status:
        """The device's status: active | revoked | unknown | unreachable.
        ``fresh``: ask the TSM even when the cache could answer (a known
        revocation still answers at once; the answer is cached)."""
        return self._lookup("device:" + serial, f"/v1/devices/{quote(serial, safe='')}/status",
                            serial, DEVICE_STATUSES, fresh)  # fmt: skip

    def certificate(self, cert_serial: str, fresh: bool = False) -> Status:
        """A certificate's status (serial number in hex): good | revoked |
        expired | unknown | unreachable."""
        cs = cert_serial.lower().lstrip("0") or "0"
        return self._lookup("cert:" + cs, f"/v1/certs/{quote(cs, safe='')}/status", cs,
                            CERT_STATUSES, fresh)  # fmt: skip

    def cached(self, serial: str) -> Status | None:
        """The device's status when the cache can answer without the network
        (a live entry, or the TSM marked down): for callers on an event loop,
        which go to a thread only on a miss."""
        now = self.clock()
        with self._lock:
            hit = self._cache.get("device:" + serial)
            if hit is not None and hit[0] > now:
                return _as_cached(hit[1])
            if now < self._down_until:
                return Status(serial, UNREACHABLE, True, self._down_error)
        return None

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()
            self._down_until = float("-inf")

    def _lookup(
        self, key: str, path: str, subject: str, allowed: tuple[str, ...], fresh: bool
    ) -> Status:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now and (not fresh or hit[1].status == "revoked"):
                return _as_cached(hit[1])
            if now < self._down_until and not fresh:
                return Status(subject, UNREACHABLE, True, self._down_error)
        try:
            answer = self._get(path)
            status = answer.get("status")
            if status not in allowed:
                raise ValueError(f"status {status!r} is not one of {', '.join(allowed)}")
        except (OSError, ValueError, http.client.HTTPException) as e:
            error = f"TSM at {self.host}:{self.port}: {type(e).__name__}: {e}"
            log.warning("TSM status of %s not known: %s", subject, error)
            with self._lock:
                self._down_until = self.clock() + self.retry
                self._down_error = error
            return Status(subject, UNREACHABLE, False, error)
        fields = tuple(sorted(answer.items()))
        result = Status(subject, str(status), False, None, fields)
        keep = float("inf") if status == "revoked" else self.clock() + self.ttl
        with self._lock:
            self._cache[key] = (keep, result)
            self._down_until = float("-inf")
        return result

    def _get(self, path: str) -> dict[str, object]:
        with self._lock:
            self.fetches += 1
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("GET", self.base + path, headers={"Accept": "application/json"})
            resp = conn.getresponse()
            raw = resp.read(MAX_ANSWER + 1)
        finally:
            conn.close()
        if resp.status != 200:
            raise ValueError(f"HTTP {resp.status}")
        if len(raw) > MAX_ANSWER:
            raise ValueError("answer too large")
        try:
            answer = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError("answer is not JSON") from e
        if not isinstance(answer, dict):
            raise ValueError("answer is not a JSON object")
        return answer


def _as_cached(s: Status) -> Status:
    return Status(s.subject, s.status, True, s.error, s.fields)
