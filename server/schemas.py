"""Request and response bodies (they are also the OpenAPI schemas at /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ops.chain import StepRecord, StepRequest
from service.layer import AccountResponse  # noqa: F401  (the account body is the service's, served as it is)

JobStatus = Literal["queued", "processing", "completed", "failed"]


class UploadResponse(BaseModel):
    storage_key: str = Field(examples=["uploads/1b9d.../abc123.jpg"])
    filename: str
    size: int
    content_type: str
    width: int
    height: int


class OutputRequest(BaseModel):
    """Optional output settings (an addition to spec 000)."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["jpg", "jpeg", "png", "webp"] | None = None
    exif: bool = False
    dpi: int | None = Field(None, ge=1, le=10_000)


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_key: str = Field(examples=["uploads/user-id/image.jpg"])
    operations: list[StepRequest] = Field(min_length=1, max_length=20)
    output: OutputRequest = Field(default_factory=OutputRequest)


class JobResponse(BaseModel):
    id: str
    status: JobStatus
    input_url: str
    output_url: str | None
    error_message: str | None
    created_at: str
    updated_at: str
    # additions to spec 000's documented shape
    progress: float = Field(description="0 to 1")
    credits: int = Field(description="credits charged (refunded if the job failed)")
    operations: list[dict[str, Any]]
    engines: list[str] = Field(description="engine that ran each step, once completed")
    warnings: list[str]
    steps: list[StepRecord]
    download_url: str | None = Field(description="signed link to the result, valid 24 h")


class JobList(BaseModel):
    jobs: list[JobResponse]
    total: int
