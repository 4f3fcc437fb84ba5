"""Every setting of the studio, from ``STUDIO_*`` environment variables: one object for the
image core, the model runtime, the REST service and the web app. Only the doors that start a
process build it (the CLI, the server and its commands, a job worker, ``app.py``; a test checks
that): they pass it on, and hand its process-wide part to ``ops.host`` and each job's part to
``ops.run_config``. The README's settings table is generated from this class (a test keeps it true).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK = ("127.0.0.1", "localhost", "::1")
PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STUDIO_")

    # --- images ---------------------------------------------------------------------------
    max_pixels: int = Field(100_000_000, ge=1, description="Refuse images with more pixels than this (decompression-bomb guard).")
    max_bytes: int = Field(64 * 1024 * 1024, ge=1, description="Refuse image files (and uploads) larger than this.")
    max_side: int = Field(65_500, ge=1, description="Refuse images or results with a side longer than this.")
    max_metadata_bytes: int = Field(1024 * 1024, ge=0, description="EXIF blocks larger than this are dropped with a warning.")
    default_quality: int = Field(92, ge=1, le=100, description="JPEG/WebP quality when none is asked for.")
    memory_budget_bytes: int | None = Field(
        None, ge=1 << 20, description="Bytes of pixels decoded or processed at once (default: a quarter of RAM, 1-8 GiB)."
    )
    memory_wait_seconds: float = Field(30, ge=0, description="How long work waits for the memory budget before it is refused as busy.")

    # --- models ---------------------------------------------------------------------------
    checkpoints: Path | None = Field(None, description="A folder searched for weights before the repository's checkpoints/ (and where fetch installs).")
    device: Literal["auto", "cpu"] = Field("auto", description="auto: CUDA when present, else the CPU; cpu: never use a GPU.")
    fp16: bool = Field(True, description="fp16 on CUDA for networks that support it.")
    max_loaded_networks: int = Field(2, ge=1, description="Networks kept loaded at once (least recently used is unloaded).")
    max_network_bytes: int | None = Field(
        None, ge=1 << 20, description="Memory the loaded networks may take together, RAM or VRAM (default: a quarter of it)."
    )
    compiled_cache_bytes: int = Field(
        2 << 30, ge=0, description="Disk the compiled cache (STUDIO_DATA_DIR/compiled: converted networks, one OpenVINO kernel blob per tile shape, 68 MB each for x4plus) may take; least recently used entries are deleted, never one in use."
    )
    max_job_seconds: float = Field(900, gt=0, description="Refuse model work (upscalers, denoisers, deblurrers, face restorers, LaMa, diffusion; not the fixed-size detectors and segmenters) expected to take longer than this on the current device; a web-app run queued for a worker is waited for twice this.")
    tile: int = Field(384, ge=0, description="Largest input tile side for model inference (0: whole image).")
    backend: Literal["auto", "torch-fp32", "torch-bf16", "openvino-f32", "openvino-bf16", "openvino-int8"] = Field(
        "auto", description="How upscalers and restorers run on the CPU; auto: the fastest measured here whose output stays within backend_min_psnr of fp32."
    )
    int8: bool = Field(False, description="Opt-in speed mode: networks on the CPU may run int8 kernels where they keep >= 38 dB to fp32 (a job step's speed overrides it).")
    backend_min_psnr: float = Field(50.0, ge=20, description="The PSNR (dB, against fp32) a faster CPU backend must keep to be chosen.")
    segmenter_backend: Literal["auto", "onnxruntime", "openvino-f32", "openvino-bf16"] = Field(
        "auto", description="How segmenters run on the CPU; auto: the fastest measured here whose masks keep segmenter_min_iou to onnxruntime's."
    )
    segmenter_min_iou: float = Field(0.99, ge=0.5, le=1, description="The mask IoU (against onnxruntime fp32, every example photo) a faster segmenter runtime must keep.")
    warm_networks: str = Field(
        "realesrgan-x4plus,u2netp", description="Comma-separated engines loaded (backend chosen, shapes compiled) at start-up, off the request path."
    )
    debug: bool = Field(False, description="Print tracebacks in the command line tool.")

    # --- service --------------------------------------------------------------------------
    host: str | None = Field(None, description="Address to listen on (default 127.0.0.1; 0.0.0.0 on a Hugging Face Space).")
    port: int = Field(7860, ge=1, le=65535, validation_alias=AliasChoices("STUDIO_PORT", "GRADIO_SERVER_PORT"), description="Port to listen on.")
    space_id: str | None = Field(None, validation_alias="SPACE_ID", description="Set by Hugging Face Spaces (SPACE_ID): public defaults.")
    zero_gpu: bool = Field(False, validation_alias="SPACES_ZERO_GPU", description="Set on ZeroGPU Spaces: model work runs inside spaces.GPU, its duration from the work's size.")
    data_dir: Path = Field(Path("data"), description="Uploads, outputs, the SQLite database and the signing secret live here.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite in data_dir (postgresql+psycopg://... works).")
    admin_token: str | None = Field(None, description="Enables /api/admin when set; sent as X-Admin-Token.")
    secret: str | None = Field(
        None, description="Signs download links. Unset: generated once into data_dir/secret.key (0600), so links survive restarts."
    )
    workers: int = Field(2, ge=1, description="Job worker threads (model work still runs one job at a time).")
    redis_url: str | None = Field(
        None, description="Scale-out mode: rate-limit counters and the job queue (Dramatiq) on this Redis; jobs run in `python -m server.worker` processes."
    )
    storage_url: str | None = Field(
        None, description="Uploads and outputs through fsspec at this URL (s3://bucket/prefix with s3fs installed); default data_dir."
    )
    job_lease_seconds: float = Field(
        30, ge=1, description="A running job's lease; its worker renews it, and a job whose lease runs out is retried or failed."
    )
    retention_hours: float = Field(72, gt=0, description="Uploads and outputs older than this are deleted.")
    public_url: str | None = Field(None, description="Base URL used in res_url/download links (default: the request's).")
    fetch_timeout: float = Field(20, gt=0, description="Seconds allowed to fetch an img_url.")
    fetch_workers: int = Field(8, ge=1, description="img_url downloads running at once, for all users together.")
    fetch_per_user: int = Field(2, ge=1, description="img_url downloads running at once for one user (the rest wait their turn).")
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="Largest request body except file uploads (those: STUDIO_MAX_BYTES).")
    anonymous_per_minute: int = Field(30, ge=1, description="Rate limit per client address for API requests without a valid key.")
    failed_logins: str = Field(
        "10/minute;50/hour", description="Wrong admin tokens allowed per address; wrong UI passwords per address and account together, and per known browser (limits notation)."
    )
    failed_logins_spread: str = Field(
        "50/minute;200/hour", description="Wrong UI passwords allowed per address across accounts, and per account across addresses, from browsers not known to the account."
    )
    trusted_proxies: str = Field(
        "", description="Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For/-Proto is believed (empty: none; on a Space: its private networks)."
    )
    ui_allowance: str = Field(
        "20/minute;500/day", description="Web-app model runs per client address when login is off, and per free-tier account when it is on."
    )
    ssrf_allow: str = Field("", description="Comma-separated host:port pairs exempt from the SSRF guard (tests only).")
    cors_origins: str = Field(
        "", description="Comma-separated exact origins (https://site.example) whose pages may call the API and the web app from the browser; empty: CORS off."
    )
    ui_login: Literal["auto", "on", "off"] = Field("auto", description="Web UI login: auto = on when the app is public (a Space, or not on loopback).")
    operators: str = Field("", description="Comma-separated emails allowed to install weights from the web UI (login on).")

    @field_validator("failed_logins", "failed_logins_spread", "ui_allowance")
    @classmethod
    def _limits_notation(cls, value: str) -> str:
        parse_many(value)  # "10/minute;50/hour": refused at start-up when malformed
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in (i.strip() for i in value.split(",") if i.strip()):
            ipaddress.ip_network(item, strict=False)  # refused at start-up when not an address or network
        return value

    @property
    def on_space(self) -> bool:
        return bool(self.space_id)

    @property
    def bind_host(self) -> str:
        return self.host or ("0.0.0.0" if self.on_space else "127.0.0.1")

    @property
    def public(self) -> bool:
        """Reachable by others: a Space, or bound beyond loopback."""
        return self.on_space or self.bind_host not in LOOPBACK

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'studio.db'}"

    @property
    def web_results_dir(self) -> Path:
        """The web app's result files: in the data folder, so retention purges them like uploads and
        outputs, and one folder Gradio is allowed to serve (not all of /tmp)."""
        return self.data_dir / "web-results"

    @property
    def ssrf_allowed(self) -> set[str]:
        return {item.strip() for item in self.ssrf_allow.split(",") if item.strip()}

    @property
    def proxies(self) -> list[str]:
        """Trusted reverse proxies. A Space's container is reached only through the Space's own
        proxy, from its private network, so there that network is trusted unless set otherwise."""
        given = [item.strip() for item in self.trusted_proxies.split(",") if item.strip()]
        return given or (list(PRIVATE_NETWORKS) if self.on_space else [])

    @property
    def operator_emails(self) -> set[str]:
        return {email.strip().lower() for email in self.operators.split(",") if email.strip()}


def markdown_table() -> str:
    """The README's settings table."""
    rows = ["| variable | default | what |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        variable = alias.choices[0] if isinstance(alias, AliasChoices) else alias or f"STUDIO_{name.upper()}"
        default = "" if field.default is None else str(field.default)
        rows.append(f"| `{variable}` | {f'`{default}`' if default else '—'} | {field.description} |")
    return "\n".join(rows)
