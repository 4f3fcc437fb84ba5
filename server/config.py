"""Server settings, from ``STUDIO_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STUDIO_")

    data_dir: Path = Field(Path("data"), description="Uploads, outputs and the SQLite database live here.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite in data_dir (postgresql+psycopg://... works).")
    admin_token: str | None = Field(None, description="Enables /api/admin when set; sent as X-Admin-Token.")
    secret: str | None = Field(None, description="Signs download links; random per start when unset.")
    workers: int = Field(2, ge=1, description="Job worker threads (model work still runs one job at a time).")
    retention_hours: float = Field(72, gt=0, description="Uploads and outputs older than this are deleted.")
    public_url: str | None = Field(None, description="Base URL used in res_url/download links (default: the request's).")
    fetch_timeout: float = Field(20, gt=0, description="Seconds allowed to fetch an img_url.")
    anonymous_per_minute: int = Field(30, ge=1, description="Rate limit per client address for requests without a valid key.")
    ssrf_allow: str = Field("", description="Comma-separated host:port pairs exempt from the SSRF guard (tests only).")
    ui_login: str = Field("auto", pattern="^(auto|on|off)$", description="Web UI login: auto = on when the app is public (a Space, or not on loopback).")
    owner_email: str = Field("owner@localhost", description="The account the UI's Settings tab manages when login is off.")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'studio.db'}"


@lru_cache(maxsize=1)
def get_server_settings() -> ServerSettings:
    return ServerSettings()
