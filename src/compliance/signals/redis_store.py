"""The Redis store: counts and facts shared by every replica, updated atomically on the server.

Layout under ``compliance:signals:<namespace>:`` (the namespace is the pack set's digest, so
two pack sets never share counts):

- ``w:<signal>:<key>``: a sorted set, all scores 0, one member ``<time>:<event id>`` per event.
  Members are ordered by name and ``<time>`` is the event time in nanoseconds, offset to be
  non-negative and zero-padded to 21 digits, so lexicographic ranges are exact time ranges
  (scores are doubles and cannot hold nanoseconds since 1970). The random event id keeps
  events with identical times apart.
- ``f:<fact>:<key>``: a string ``<since>:<until>,...`` of sorted disjoint lifetimes in the
  same encoding. Its TTL only cleans up; validity is always judged against the queried instant.

One Lua script records an event for all its matching signals: trim, count, add, cap, and
merge the fact, in one server-side step, so two replicas observing at once never lose a
count. ``facts_for`` is one MGET. Every Redis error becomes ``StoreUnavailable``.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, TypeVar

from compliance.cel.values import NANOS, TIMESTAMP_MIN_SECONDS, Duration, Timestamp
from compliance.signals.model import Event, Fact, SignalSpec, StoreUnavailable
from compliance.signals.store import (
    DEFAULT_HORIZON,
    Clock,
    check_instant,
    check_keys,
    clock_nanos,
    horizon_nanos,
    matching_within,
    system_clock,
)

if TYPE_CHECKING:
    import redis

__all__ = ["RedisStore"]

_T = TypeVar("_T")

_OFFSET = -TIMESTAMP_MIN_SECONDS * NANOS
_WIDTH = 21
_TOP = 10**_WIDTH - 1
_PER_PAIR = 9

# For each (window, fact) key pair i, ARGV holds 9 values from 9*(i-1)+1: member,
# drop-below, count-from, count-below, threshold, window TTL ms, since, until, fact TTL ms;
# after them come max events per window and keep-after (lifetimes ending at or before it are
# dropped). Returns "since:until" per pair, or "" when the pair raised no fact. The merge
# mirrors compliance.signals.store.merge_interval; strings compare as numbers (fixed width).
_SCRIPT = """
local n = #KEYS / 2
local cap = tonumber(ARGV[9 * n + 1])
local keep_after = ARGV[9 * n + 2]
local out = {}
for i = 1, n do
  local w, f, a = KEYS[2 * i - 1], KEYS[2 * i], 9 * (i - 1)
  redis.call('ZREMRANGEBYLEX', w, '-', '(' .. ARGV[a + 2])
  local count = redis.call('ZLEXCOUNT', w, '[' .. ARGV[a + 3], '(' .. ARGV[a + 4]) + 1
  redis.call('ZADD', w, 0, ARGV[a + 1])
  local size = redis.call('ZCARD', w)
  if size > cap then redis.call('ZREMRANGEBYRANK', w, 0, size - cap - 1) end
  if redis.call('PTTL', w) < tonumber(ARGV[a + 6]) then redis.call('PEXPIRE', w, ARGV[a + 6]) end
  if count < tonumber(ARGV[a + 5]) then
    out[i] = ''
  else
    local since, till = ARGV[a + 7], ARGV[a + 8]
    local kept = {}
    local old = redis.call('GET', f)
    if old then
      for s, u in string.gmatch(old, '(%d+):(%d+)') do
        if u > keep_after then
          if u < since or s > till then
            table.insert(kept, s .. ':' .. u)
          else
            if s < since then since = s end
            if u > till then till = u end
          end
        end
      end
    end
    table.insert(kept, since .. ':' .. till)
    table.sort(kept)
    redis.call('SET', f, table.concat(kept, ','), 'KEEPTTL')
    if redis.call('PTTL', f) < tonumber(ARGV[a + 9]) then redis.call('PEXPIRE', f, ARGV[a + 9]) end
    out[i] = since .. ':' .. till
  end
end
return out
"""


def _enc(nanos: int) -> str:
    """A nanosecond instant as a fixed-width decimal whose string order is numeric order."""
    return f"{min(max(nanos + _OFFSET, 0), _TOP):0{_WIDTH}d}"


def _dec(text: str) -> int:
    return int(text) - _OFFSET


def _ttl_ms(until_ns: int, now: Timestamp) -> int:
    """Milliseconds until ``until_ns`` on the store's clock (at least 1): cleanup only."""
    return max(1, math.ceil((until_ns - now.nanos) / 1_000_000) + 1)


def _text(value: bytes | str) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else value


class RedisStore:
    """A store shared through Redis (extra ``compliance[redis]``); see the module docstring."""

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        namespace: str,
        clock: Clock = system_clock,
        horizon: timedelta | Duration | int = DEFAULT_HORIZON,
        max_events_per_key: int = 1_000,
        timeout: float = 0.5,
    ) -> None:
        if client is None:
            try:
                import redis  # noqa: PLC0415 - optional extra, imported only when used
            except ImportError as err:
                raise ImportError(
                    "RedisStore needs redis-py; install it with `pip install 'compliance[redis]'`"
                ) from err
            client = redis.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        if not namespace or any(c.isspace() for c in namespace):
            raise ValueError("namespace must be a non-empty string without spaces")
        if max_events_per_key < 1:
            raise ValueError("max_events_per_key must be positive")
        self._client = client
        self.prefix = f"compliance:signals:{namespace}:"
        self._clock = clock
        self._now = clock_nanos(clock)
        self._horizon = horizon_nanos(horizon)
        self.max_events_per_key = max_events_per_key
        self._script = client.register_script(_SCRIPT)

    def observe(self, specs: Sequence[SignalSpec], event: Event) -> list[Fact]:
        """Record ``event`` for each matching spec in one atomic script call (see ``Store``)."""
        pairs = matching_within(specs, event, self.max_events_per_key)
        if not pairs:
            return []
        now = self._clock()
        check_instant(event.time, now.nanos, self._horizon, "event time")
        t = event.time.nanos
        keys: list[str] = []
        args: list[str | int] = []
        for spec, key in pairs:
            keys += [f"{self.prefix}w:{spec.name}:{key}", f"{self.prefix}f:{spec.fact}:{key}"]
            until = t + spec.lifetime_ns
            args += [
                f"{_enc(t)}:{uuid.uuid4().hex}",
                _enc(now.nanos - spec.window_ns - self._horizon + 1),
                _enc(t - spec.window_ns + 1),
                _enc(t + 1),
                spec.threshold,
                _ttl_ms(t + spec.window_ns + self._horizon, now),
                _enc(t),
                _enc(until),
                _ttl_ms(until + self._horizon, now),
            ]
        args += [self.max_events_per_key, _enc(now.nanos - self._horizon)]
        results = self._call(lambda: self._script(keys=keys, args=args))
        raised: list[Fact] = []
        for (spec, key), result in zip(pairs, results, strict=True):
            text = _text(result)
            if text:
                since, until_text = text.split(":")
                raised.append(
                    Fact(spec.fact, key, Timestamp(_dec(since)), Timestamp(_dec(until_text)))
                )
        return raised

    def facts_for(self, keys: Mapping[str, str], at: Timestamp) -> dict[str, Fact]:
        """The facts among ``keys`` that hold at ``at``: one MGET (see ``Store``)."""
        check_keys(keys)
        check_instant(at, self._now(), self._horizon, "instant")
        if not keys:
            return {}
        names = list(keys)
        values = self._call(
            lambda: self._client.mget([f"{self.prefix}f:{n}:{keys[n]}" for n in names])
        )
        found: dict[str, Fact] = {}
        for name, value in zip(names, values, strict=True):
            if value is None:
                continue
            for lifetime in _text(value).split(","):
                since, until = (_dec(part) for part in lifetime.split(":"))
                if since <= at.nanos < until:
                    found[name] = Fact(name, keys[name], Timestamp(since), Timestamp(until))
                    break
        return found

    def clear(self) -> int:
        """Delete every key under this store's prefix (tests, and retiring a pack set)."""
        found: list[bytes | str] = self._call(
            lambda: list(self._client.scan_iter(f"{self.prefix}*", 500))
        )
        if found:
            self._call(lambda: self._client.delete(*found))
        return len(found)

    def _call(self, action: Callable[[], _T]) -> _T:
        """Run one Redis call; every Redis failure becomes ``StoreUnavailable``."""
        import redis  # noqa: PLC0415 - optional extra; already imported when a client exists

        try:
            return action()
        except redis.RedisError as err:
            raise StoreUnavailable(f"redis store at `{self._where()}` failed: {err}") from err

    def _where(self) -> str:
        kwargs = self._client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return str(kwargs["path"])
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
