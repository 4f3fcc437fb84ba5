"""Server settings, from ``STUDIO_*`` environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STUDIO_")

    data_dir: Path = Field(Path("data"), description="Uploads, outputs, the SQLite database and the signing secret live here.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite in data_dir (postgresql+psycopg://... works).")
    admin_token: str | None = Field(None, description="Enables /api/admin when set; sent as X-Admin-Token.")
    secret: str | None = Field(
        None, description="Signs download links. Unset: generated once into data_dir/secret.key (0600), so links survive restarts."
    )
    workers: int = Field(2, ge=1, description="Job worker threads (model work still runs one job at a time).")
    job_lease_seconds: float = Field(
        30, ge=1, description="A running job's worker renews its lease this often x3; a job whose lease runs out is retried or failed."
    )
    retention_hours: float = Field(72, gt=0, description="Uploads and outputs older than this are deleted.")
    public_url: str | None = Field(None, description="Base URL used in res_url/download links (default: the request's).")
    fetch_timeout: float = Field(20, gt=0, description="Seconds allowed to fetch an img_url.")
    fetch_workers: int = Field(8, ge=1, description="img_url downloads running at once, for all users together.")
    fetch_per_user: int = Field(2, ge=1, description="img_url downloads running at once for one user (the rest wait their turn).")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest request body except file uploads (those: STUDIO_MAX_BYTES).")
    anonymous_per_minute: int = Field(30, ge=1, description="Rate limit per client address for requests without a valid key.")
    failed_logins: str = Field(
        "10/minute;50/hour", description="Wrong admin tokens or UI passwords allowed per client address (limits notation)."
    )
    ui_allowance: str = Field(
        "20/minute;500/day",
        description="Model runs allowed per client address in the web UI when login is off, and per free-tier account when it is on.",
    )
    ssrf_allow: str = Field("", description="Comma-separated host:port pairs exempt from the SSRF guard (tests only).")
    ui_login: str = Field("auto", pattern="^(auto|on|off)$", description="Web UI login: auto = on when the app is public (a Space, or not on loopback).")
    operators: str = Field("", description="Comma-separated emails allowed to install models from the web UI (login on).")
    owner_email: str = Field("owner@localhost", description="The account the CLI's local tools manage when login is off.")

    @field_validator("failed_logins", "ui_allowance")
    @classmethod
    def _limits_notation(cls, value: str) -> str:
        parse_many(value)  # "10/minute;50/hour": refused at start-up when malformed
        return value

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'studio.db'}"

    @property
    def host(self) -> str:
        return os.environ.get("STUDIO_HOST", "0.0.0.0" if self.on_space else "127.0.0.1")

    @property
    def on_space(self) -> bool:
        return bool(os.environ.get("SPACE_ID"))

    @property
    def ssrf_allowed(self) -> set[str]:
        return {item.strip() for item in self.ssrf_allow.split(",") if item.strip()}

    @property
    def operator_emails(self) -> set[str]:
        return {email.strip().lower() for email in self.operators.split(",") if email.strip()}


@lru_cache(maxsize=1)
def get_server_settings() -> ServerSettings:
    return ServerSettings()
