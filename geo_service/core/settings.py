"""Settings of the service, from the environment or a ``.env`` file.

Every setting has an environment variable of the same name in upper case,
e.g. ``DATABASE_URL``, ``GEO_DATA_DIR``, ``GEO_PORT``, ``GEO_BASEMAP``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        validation_alias="GEO_DATA_DIR",
        description="Directory for the embedded database and caches.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; postgresql://... for PostGIS. "
        "Default: SpatiaLite file <data_dir>/geo_service.sqlite.",
    )
    spatialite_library: str = Field(
        default="mod_spatialite",
        validation_alias="SPATIALITE_LIBRARY_PATH",
        description="Name or path of the SpatiaLite extension.",
    )
    host: str = Field(default="127.0.0.1", validation_alias="GEO_HOST")
    port: int = Field(default=8000, validation_alias="GEO_PORT")
    basemap: Literal["osm", "tianditu", "local", "none"] = Field(default="none", validation_alias="GEO_BASEMAP")
    basemap_url: str | None = Field(
        default=None, validation_alias="GEO_BASEMAP_URL", description="Tile URL template for basemap=local."
    )
    tianditu_key: str | None = Field(default=None, validation_alias="TIANDITU_KEY")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        validation_alias="GEO_PUBLIC_URL",
        description="Address residents reach the service at (QR codes on printed posters).",
    )
    norms_file: Path | None = Field(
        default=None, validation_alias="GEO_NORMS_FILE", description="City/county override of the planning norms."
    )
    max_upload_mb: int = Field(default=200, validation_alias="GEO_MAX_UPLOAD_MB")
    page_limit_default: int = Field(default=1000, validation_alias="GEO_PAGE_LIMIT_DEFAULT")
    page_limit_max: int = Field(default=10000, validation_alias="GEO_PAGE_LIMIT_MAX")
    max_body_mb: float = Field(
        default=8, validation_alias="GEO_MAX_BODY_MB", description="Largest JSON request body (413 above)."
    )
    rate_limit_rps: float = Field(
        default=50,
        validation_alias="GEO_RATE_LIMIT_RPS",
        description="Requests per second per client address (token bucket, per worker process); 0 turns the limit off.",
    )
    rate_limit_burst: int = Field(
        default=200, validation_alias="GEO_RATE_LIMIT_BURST", description="Requests a client may make at once."
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: [],
        validation_alias="GEO_TRUSTED_PROXIES",
        description='Reverse proxies (IP addresses) whose X-Forwarded-For names the client, e.g. ["127.0.0.1"].',
    )
    job_workers: int = Field(
        default=1, validation_alias="GEO_JOB_WORKERS", description="Background jobs run at once per process."
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias="GEO_REDIS_URL",
        description="redis://host:port/db shared by several service processes: rate-limit buckets and the durable "
        "job queue. Unset (the embedded default): per-process limits and in-process jobs.",
    )
    # Limits of one import (hostile or broken files are refused with a 4xx answer, nothing written).
    max_features: int = Field(
        default=2_000_000,
        ge=1,
        validation_alias="GEO_MAX_FEATURES",
        description="Most features (rows) in one imported file.",
    )
    max_vertices: int = Field(
        default=1_000_000,
        ge=1,
        validation_alias="GEO_MAX_VERTICES",
        description="Most vertices in one imported geometry (the row is reported above).",
    )
    max_string_chars: int = Field(
        default=10_000,
        ge=1,
        validation_alias="GEO_MAX_STRING_CHARS",
        description="Longest text value of an imported attribute (the row is reported above).",
    )
    zip_max_uncompressed_mb: int = Field(
        default=2048,
        ge=1,
        validation_alias="GEO_ZIP_MAX_UNCOMPRESSED_MB",
        description="Largest total uncompressed size of an uploaded zip or xlsx.",
    )
    zip_max_ratio: int = Field(
        default=200,
        ge=1,
        validation_alias="GEO_ZIP_MAX_RATIO",
        description="Largest compression ratio of an archive member over 10 MB (zip bombs).",
    )
    zip_max_members: int = Field(
        default=1000, ge=1, validation_alias="GEO_ZIP_MAX_MEMBERS", description="Most files in an uploaded zip or xlsx."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'geo_service.sqlite').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
