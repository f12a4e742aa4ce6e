"""State shared by several service processes through Redis (``GEO_REDIS_URL``).

When the setting is empty (the embedded default) nothing here connects anywhere: rate limits are per process and
jobs run in the process that accepted them.  With Redis:

- rate-limit buckets live in Redis (one Lua script takes a token atomically), so two workers allow the rate once;
- background jobs go on a durable list in Redis, so a restarted service loses no queued job
  (:mod:`geo_service.jobs`).

Redis going down never turns into a 5xx: callers fall back to per-process state and :meth:`SharedState.health`
reports the outage, which ``/health`` shows as a warning.

Keys carry a namespace derived from the database URL, so services on different databases can share one Redis.
"""

from __future__ import annotations

import hashlib
import threading
import time

FALLBACK_RETRY_S = 5.0  # after a Redis error, per-process state is used for this long before Redis is tried again

# Token bucket, atomically: KEYS[1] the bucket; ARGV rate (tokens/s), burst; returns the wait in milliseconds (0 =
# allowed).  Time comes from the Redis server, so processes on machines with skewed clocks agree.
_TAKE_TOKEN_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""


def namespace_of(database_url: str) -> str:
    """Key prefix of one service deployment: ``geo:<12 hex of the database URL>:``."""
    return "geo:" + hashlib.sha1(database_url.encode("utf-8")).hexdigest()[:12] + ":"


class SharedState:
    """Connections to Redis for one service process, with fallback bookkeeping.

    Parameters
    ----------
    url : str
        ``redis://host:port/db``.
    namespace : str
        Key prefix (see :func:`namespace_of`).
    """

    def __init__(self, url: str, namespace: str):
        import redis
        import redis.asyncio as aredis

        self.url = url
        self.ns = namespace
        self.client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
        self.async_client = aredis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
        self._take_token = self.async_client.register_script(_TAKE_TOKEN_LUA)
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._last_error: str | None = None
        self._retry_at = 0.0

    def key(self, *parts: object) -> str:
        return self.ns + ":".join(str(p) for p in parts)

    # --- outage bookkeeping ------------------------------------------------------------------------------------
    def usable(self) -> bool:
        """Whether Redis should be tried now (not within :data:`FALLBACK_RETRY_S` of a failure)."""
        return time.monotonic() >= self._retry_at

    def mark_down(self, exc: BaseException) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = time.time()
            self._last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
            self._retry_at = time.monotonic() + FALLBACK_RETRY_S

    def mark_up(self) -> None:
        if self._down_since is not None:
            with self._lock:
                self._down_since = None
                self._last_error = None

    def health(self) -> dict:
        """``{"redis": "ok" | "unavailable", "warning_zh": ...}`` after a ping (the ping updates the bookkeeping)."""
        try:
            self.client.ping()
            self.mark_up()
            return {"redis": "ok"}
        except Exception as exc:  # any client or socket error: the service goes on per process
            self.mark_down(exc)
            return {
                "redis": "unavailable",
                "warning_zh": "共享状态服务 Redis 不可用：限流按进程计算，后台任务暂不能排队到其他进程；服务照常应答",
                "redis_error": self._last_error,
            }

    # --- rate limits ---------------------------------------------------------------------------------------------
    async def take_token(self, client_key: str, rate: float, burst: int) -> float:
        """Take one token of ``client_key``'s shared bucket; return 0 if allowed, else seconds to wait.

        Raises whatever the Redis client raises; the caller falls back to its own buckets.
        """
        wait_ms = await self._take_token(keys=[self.key("rl", client_key)], args=[float(rate), int(burst)])
        self.mark_up()
        return float(wait_ms) / 1000.0

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # closing a broken connection
            pass


def shared_state_from(settings) -> SharedState | None:
    """The process's :class:`SharedState`, or None when ``GEO_REDIS_URL`` is not set."""
    url = getattr(settings, "redis_url", None)
    if not url:
        return None
    return SharedState(url, namespace_of(settings.resolved_database_url))
