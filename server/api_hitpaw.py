"""Spec 002: photo-enhancer with named models, task-status, numeric error codes, coins.

The documented responses put job fields under ``data``; the spec's own Python client reads
them at the top level (``result['job_id']``). Both work: ``data`` as documented, and the same
fields repeated at the top level.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Security
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ops import chain
from ops.errors import EngineUnavailableError, StudioError
from ops.imageio.writer import FORMAT_ALIASES
from ops.presets import ALIASES
from ops.registry import MODELS, get_model
from service import safefetch
from service.db import Job
from service.studio import Studio
from service.terms import Price, Refusal

from .api_v1 import current_caller
from .deps import studio
from .errors import HitpawError, hitpaw_refusal
from .openapi import APIKEY, HITPAW_STATUSES, HitpawErrorBody, error_responses, ok_response

router = APIRouter(
    tags=["spec 002: photo enhancer"], dependencies=[Security(APIKEY)], responses=error_responses(HitpawErrorBody, HITPAW_STATUSES) | ok_response()
)
EXTENSIONS = {f".{name}": fmt for name, fmt in FORMAT_ALIASES.items()}  # spec 002's ".jpg" etc.
STATUS = {"queued": "CONVERTING", "processing": "CONVERTING", "completed": "COMPLETED", "failed": "ERROR"}
#: a failed job's reason (JobService codes) as spec 002's numeric error code; a full disk is "Failed to
#: create file", as in the 507 a request gets then (server/app.py)
FAILURE_CODES = {"invalid_url": 100400001, "input_too_large": 110400009, "image_too_large": 110400009, "target_too_large": 110400010,
                 "storage_full": 100500003}  # fmt: skip
RESOLVE_TIMEOUT = 5  # seconds for the first hop's name lookup on the request path


class EnhanceRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    model_name: str = Field(max_length=64, examples=["general_4x"], json_schema_extra={"enum": [*MODELS, *ALIASES]})
    img_url: str = Field(max_length=4096, examples=["https://example.com/image.jpg"])
    extension: str = Field(max_length=16, examples=[".jpg"], json_schema_extra={"enum": [*EXTENSIONS, *(e[1:] for e in EXTENSIONS)]})
    exif: bool = False
    dpi: int | None = Field(None, alias="DPI", ge=1, le=10_000)


class TaskStatusRequest(BaseModel):
    job_id: str = Field(max_length=64)


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": 200, "message": "OK", "data": data, **data}


class EnhanceData(BaseModel):
    job_id: str
    consume_coins: int


class EnhanceResponse(EnhanceData):
    code: int = 200
    message: str = "OK"
    data: EnhanceData


class StatusData(BaseModel):
    job_id: str
    status: Literal["CONVERTING", "COMPLETED", "ERROR"]
    res_url: str
    original_url: str
    error_message: str | None = None
    error_code: int | None = Field(None, description="why the job failed, as a spec-002 code (an addition)")


class StatusResponse(StatusData):
    code: int = 200
    message: str = "OK"
    data: StatusData


@router.post("/api/photo-enhancer", summary="Submit a photo enhancement task", response_model=EnhanceResponse)
async def photo_enhancer(body: EnhanceRequest, request: Request, app: Studio = Depends(studio)) -> dict[str, Any]:
    """Checks what can be checked at once (model, extension, the URL's form and first address); the
    download itself runs in the fetch pool, so a slow image host delays only its own job."""
    caller = current_caller(request)
    try:
        preset = get_model(body.model_name)
    except StudioError:
        raise HitpawError(110400005, f"model_name must be one of: {', '.join(MODELS)}") from None
    fmt = EXTENSIONS.get(body.extension.lower() if body.extension.startswith(".") else f".{body.extension.lower()}")
    if fmt is None:
        raise HitpawError(110400007, f"extension must be one of: {', '.join(EXTENSIONS)}")
    try:
        chain.plan(preset.steps)  # every step can run here (else 110400005, before any coins are taken)
    except EngineUnavailableError as exc:
        raise HitpawError(110400005, exc.message) from None
    try:
        await asyncio.wait_for(asyncio.to_thread(safefetch.check_url, body.img_url, app.settings.ssrf_allowed), RESOLVE_TIMEOUT)
    except safefetch.UnsafeUrl as exc:
        raise HitpawError(100400001, str(exc)) from None
    except TimeoutError:
        raise HitpawError(100400001, "the image URL's host name could not be resolved in time") from None
    fields = {"api": "hitpaw", "input_key": "", "operations": list(preset.steps), "model_name": preset.name, "source_url": body.img_url,
              "output_options": {"format": fmt, "keep_exif": body.exif, "dpi": body.dpi}}  # fmt: skip
    try:
        job_id = await run_in_threadpool(app.service.create_job, caller, Price.of_model(preset), **fields)
    except Refusal as refusal:
        raise hitpaw_refusal(refusal) from None
    await run_in_threadpool(app.jobs.submit, job_id)
    return ok({"job_id": job_id, "consume_coins": preset.coins})


@router.post("/api/task-status", summary="Query a task's status", response_model=StatusResponse)
def task_status(body: TaskStatusRequest, request: Request, app: Studio = Depends(studio)) -> dict[str, Any]:
    caller = current_caller(request)
    with app.db.session() as session:
        job = session.get(Job, body.job_id)
        if job is None or job.user_id != caller.user_id:
            raise HitpawError(110400002)
        data: dict[str, Any] = {
            "job_id": job.id,
            "status": STATUS[job.status],
            "res_url": app.signed_url(str(request.base_url), job.output_key) if job.output_key else "",
            "original_url": job.source_url or (app.signed_url(str(request.base_url), job.input_key) if job.input_key else ""),
        }
        if job.status == "failed":
            data["error_message"] = job.error_message
            data["error_code"] = FAILURE_CODES.get(job.error_code or "", 110400003)
        return ok(data)
