"""Request limits: rate per client (429), body size (413), writes without a token answered before their body is read."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from geo_service.api._limits import TokenBuckets
from geo_service.app import create_app
from geo_service.core.settings import Settings
from geo_service.core.storage import Store
from tests._auth import token_headers
from tests.conftest import snapshot


def _app(store, **env):
    limited = Store(store.url.render_as_string(False), settings=Settings(GEO_DATA_DIR=store.settings.data_dir, **env))
    return limited, create_app(limited)


def test_token_buckets():
    b = TokenBuckets(rate=2, burst=3)
    assert [b.take("a", now=0.0) for _ in range(3)] == [0, 0, 0]
    assert b.take("a", now=0.0) == pytest.approx(0.5)  # one token comes back every 0.5 s
    assert b.take("b", now=0.0) == 0  # another client has its own bucket
    assert b.take("a", now=0.6) == 0
    assert b.take("a", now=0.6) > 0
    assert b.take("a", now=100.0) == 0  # refilled, never above the burst
    assert [b.take("a", now=100.0) for _ in range(3)] == [0, 0, pytest.approx(0.5)]


def test_rate_limit_answers_429_per_client(store):
    limited, app = _app(store, GEO_RATE_LIMIT_RPS=0.5, GEO_RATE_LIMIT_BURST=5, GEO_TRUSTED_PROXIES=["testclient"])
    with TestClient(app) as c:
        codes = [c.get("/health").status_code for _ in range(5)]
        assert codes == [200] * 5
        r = c.get("/layers")
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert "请求过于频繁" in r.json()["message_zh"]
        assert c.get("/static/maps/maps.js").status_code == 200  # assets of the map pages are not counted
        # behind a trusted proxy the client is the last address it names; another client is not throttled
        assert c.get("/health", headers={"X-Forwarded-For": "10.0.0.7"}).status_code == 200
        assert c.get("/health", headers={"X-Forwarded-For": "1.2.3.4, 10.0.0.8"}).status_code == 200
    limited.dispose()


def test_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(store):
    limited, app = _app(store, GEO_RATE_LIMIT_RPS=0.5, GEO_RATE_LIMIT_BURST=2)
    with TestClient(app) as c:
        codes = [c.get("/health", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(4)]
    assert codes == [200, 200, 429, 429]
    limited.dispose()


def test_body_limits(store):
    limited, app = _app(store, GEO_MAX_BODY_MB=0.01, GEO_MAX_UPLOAD_MB=1)
    headers = {**token_headers(limited, "admin"), "Content-Type": "application/json"}
    before = snapshot(limited)
    big = json.dumps(
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [104.3, 31.1]},
            "properties": {"name": "x" * 20_000, "shelter_class": "emergency"},
        }
    ).encode()
    with TestClient(app) as c:
        r = c.post("/layers/shelters/features", content=big, headers=headers)  # declared Content-Length
        assert r.status_code == 413 and "上限" in r.json()["message_zh"]

        def chunks():  # no Content-Length: counted while streaming
            for i in range(0, len(big), 4096):
                yield big[i : i + 4096]

        r = c.post("/layers/shelters/features", content=chunks(), headers=headers)
        assert r.status_code == 413, r.text
        r = c.post(
            "/layers/shelters/import",
            files={"file": ("s.geojson", b" " * (1024 * 1024 + 100_000), "application/geo+json")},
            headers=token_headers(limited, "admin"),
        )
        assert r.status_code == 413
        # a body below the limit goes through
        small = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [104.3, 31.1]},
            "properties": {"name": "小", "shelter_class": "emergency"},
        }
        assert c.post("/layers/shelters/features", json=small, headers=headers).status_code == 201
    after = snapshot(limited)
    assert len(after["shelters"]) == len(before["shelters"]) + 1
    limited.dispose()


def test_anonymous_write_is_refused_before_the_body_is_read(anon_client, store):
    received = []

    def body():
        received.append(1)
        yield b"{}"

    r = anon_client.post("/layers/shelters/features", content=body(), headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "令牌" in r.json()["message_zh"]
