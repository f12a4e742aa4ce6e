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

    data_dir: Path = Field(Path("data"), validation_alias="GEO_DATA_DIR", description="Directory for the embedded database and caches.")
    database_url: str | None = Field(
        None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; postgresql://... for PostGIS. Default: SpatiaLite file <data_dir>/geo_service.sqlite.",
    )
    spatialite_library: str = Field(
        "mod_spatialite", validation_alias="SPATIALITE_LIBRARY_PATH", description="Name or path of the SpatiaLite extension."
    )
    host: str = Field("127.0.0.1", validation_alias="GEO_HOST")
    port: int = Field(8000, validation_alias="GEO_PORT")
    basemap: Literal["osm", "tianditu", "local", "none"] = Field("none", validation_alias="GEO_BASEMAP")
    basemap_url: str | None = Field(None, validation_alias="GEO_BASEMAP_URL", description="Tile URL template for basemap=local.")
    tianditu_key: str | None = Field(None, validation_alias="TIANDITU_KEY")
    norms_file: Path | None = Field(None, validation_alias="GEO_NORMS_FILE", description="City/county override of the planning norms.")
    max_upload_mb: int = Field(200, validation_alias="GEO_MAX_UPLOAD_MB")
    page_limit_default: int = Field(1000, validation_alias="GEO_PAGE_LIMIT_DEFAULT")
    page_limit_max: int = Field(10000, validation_alias="GEO_PAGE_LIMIT_MAX")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'geo_service.sqlite').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
