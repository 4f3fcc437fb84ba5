"""Runtime limits and folders, configurable through ``STUDIO_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STUDIO_")

    max_pixels: int = Field(
        100_000_000, ge=1, description="Refuse images with more pixels than this (decompression-bomb guard)."
    )
    max_bytes: int = Field(64 * 1024 * 1024, ge=1, description="Refuse image files larger than this.")
    max_side: int = Field(65_500, ge=1, description="Refuse images or results with a side longer than this.")
    max_metadata_bytes: int = Field(
        1024 * 1024, ge=0, description="EXIF blocks larger than this are dropped with a warning."
    )
    default_quality: int = Field(92, ge=1, le=100, description="JPEG/WebP quality when none is asked for.")
    max_loaded_models: int = Field(2, ge=1, description="Networks kept in memory at once (least recently used goes).")
    max_job_seconds: float = Field(
        900, gt=0, description="Refuse model work estimated to take longer than this on the current device."
    )
    memory_budget_bytes: int | None = Field(
        None, ge=1 << 20, description="Bytes of pixels decoded or processed at once (default: a quarter of RAM, 1-8 GiB)."
    )
    memory_wait_seconds: float = Field(30, ge=0, description="How long work waits for the memory budget before it is refused as busy.")
    tile: int = Field(384, ge=0, description="Largest input tile side for model inference (0: whole image).")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
