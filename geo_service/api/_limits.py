"""Request limits in front of every route (pure ASGI middleware).

- Request rate per client address (token bucket): 429 with ``Retry-After``.
  Static assets are not counted.  Behind a reverse proxy listed in
  ``GEO_TRUSTED_PROXIES`` the client is the address it puts last in
  ``X-Forwarded-For``.  The buckets are per worker process, or shared by every
  process through Redis when ``GEO_REDIS_URL`` is set; when Redis fails the
  process falls back to its own buckets (``/health`` warns), never to a 5xx.
- Body size: uploads (multipart) up to ``GEO_MAX_UPLOAD_MB``, other bodies up
  to ``GEO_MAX_BODY_MB``; 413 as soon as the declared or streamed size
  passes the limit, before the route reads or parses anything.
- Writes (POST, PUT, PATCH, DELETE) without an ``Authorization`` header are
  answered 401 before their body is read; the route's own dependency then
  checks the token and the role.
"""

from __future__ import annotations

import json
import math
import time

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
EXEMPT_PREFIXES = ("/static/",)


class _TooLarge(Exception):
    """The body passed its limit while the route was reading it."""


async def _send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": data})


class TokenBuckets:
    """Per-key token buckets: ``rate`` tokens per second up to ``burst``."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000):
        self.rate, self.burst, self.max_keys = float(rate), max(int(burst), 1), max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; return 0 if allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_keys:
                self._evict(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _evict(self, now: float) -> None:
        full = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full}


class LimitsMiddleware:
    def __init__(self, app, *, settings, shared=None):
        self.app = app
        self.settings = settings
        self.rate = float(settings.rate_limit_rps or 0)
        self.buckets = TokenBuckets(self.rate, settings.rate_limit_burst) if self.rate > 0 else None
        self.shared = shared  # geo_service.core.shared_state.SharedState, or None
        self.trusted = set(settings.trusted_proxies or [])

    async def wait_s(self, key: str) -> float:
        """Seconds until ``key`` may make a request (0: now), from the shared buckets when Redis answers."""
        if self.shared is not None and self.shared.usable():
            try:
                return await self.shared.take_token(key, self.rate, self.settings.rate_limit_burst)
            except Exception as exc:  # Redis down or slow: this process's own buckets, until it answers again
                self.shared.mark_down(exc)
        return self.buckets.take(key) if self.buckets is not None else 0.0

    def client_key(self, scope) -> str:
        host = (scope.get("client") or ("unknown", 0))[0]
        if host in self.trusted:
            for name, value in scope.get("headers", []):
                if name == b"x-forwarded-for":
                    hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
                    for hop in reversed(hops):
                        if hop not in self.trusted:
                            return hop
        return host

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if self.buckets is not None and not path.startswith(EXEMPT_PREFIXES):
            wait = await self.wait_s(self.client_key(scope))
            if wait > 0:
                retry = max(1, math.ceil(wait))
                return await _send_json(
                    send,
                    429,
                    {
                        "error": "RateLimited",
                        "message": f"too many requests; retry in {retry} s",
                        "message_zh": f"请求过于频繁，请 {retry} 秒后再试",
                    },
                    [(b"retry-after", str(retry).encode())],
                )
        headers = dict(scope.get("headers", []))
        method = scope.get("method", "GET")
        if method in WRITE_METHODS and not headers.get(b"authorization"):
            return await _send_json(
                send,
                401,
                {
                    "error": "AuthError",
                    "message": "this request changes data: it needs an Authorization: Bearer <token> header",
                    "message_zh": "此操作会修改数据，须登录：请在请求头 Authorization 中提供 Bearer 令牌",
                },
                [(b"www-authenticate", b"Bearer")],
            )
        if method not in WRITE_METHODS:
            return await self.app(scope, receive, send)
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit_mb = self.settings.max_upload_mb if multipart else self.settings.max_body_mb
        limit = int(limit_mb * 1024 * 1024) + (64 * 1024 if multipart else 0)  # form fields around the file
        too_large = {
            "error": "PayloadTooLarge",
            "message": f"request body larger than {limit_mb:g} MB",
            "message_zh": f"{'上传文件' if multipart else '请求内容'}超过 {limit_mb:g} MB 上限，未写入任何数据",
        }
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    return await _send_json(send, 413, too_large)
            except ValueError:
                return await _send_json(
                    send,
                    400,
                    {
                        "error": "BadRequest",
                        "message": "invalid Content-Length",
                        "message_zh": "Content-Length 请求头无效",
                    },
                )
        seen = 0
        exceeded = False
        answered = False

        async def limited_receive():
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message):
            # Once the body passed the limit, whatever the route makes of the broken read
            # (FastAPI turns it into a 400) is replaced by one 413.
            nonlocal answered
            if not exceeded:
                return await send(message)
            if not answered:
                answered = True
                await _send_json(send, 413, too_large)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if not answered:
                answered = True
                await _send_json(send, 413, too_large)
