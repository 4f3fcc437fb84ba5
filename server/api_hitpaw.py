"""Spec 002: photo-enhancer with named models, task-status, numeric error codes, coins.

The documented responses put job fields under ``data``; the spec's own Python client reads
them at the top level (``result['job_id']``). Both work: ``data`` as documented, and the same
fields repeated at the top level.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ops import chain
from ops.errors import EngineUnavailableError, ImageTooLargeError, StudioError
from ops.imageio import decode
from ops.registry import MODELS, get_model
from ops.settings import get_settings

from . import safefetch
from .accounts import charge
from .api_v1 import MEDIA, current_user
from .db import Job, User
from .errors import HitpawError
from .state import Studio, studio

router = APIRouter(tags=["spec 002: photo enhancer"])
EXTENSIONS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp"}
STATUS = {"queued": "CONVERTING", "processing": "CONVERTING", "completed": "COMPLETED", "failed": "ERROR"}


class EnhanceRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    model_name: str = Field(examples=["general_4x"])
    img_url: str = Field(examples=["https://example.com/image.jpg"])
    extension: str = Field(examples=[".jpg"])
    exif: bool = False
    dpi: int | None = Field(None, alias="DPI", ge=1, le=10_000)


class TaskStatusRequest(BaseModel):
    job_id: str


def ok(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": 200, "message": "OK", "data": data, **data}


@router.post("/api/photo-enhancer", summary="Submit a photo enhancement task")
def photo_enhancer(body: EnhanceRequest, request: Request, app: Studio = Depends(studio)) -> dict[str, Any]:
    user = current_user(request)
    try:
        preset = get_model(body.model_name)
    except StudioError:
        raise HitpawError(110400005, f"model_name must be one of: {', '.join(MODELS)}") from None
    fmt = EXTENSIONS.get(body.extension.lower() if body.extension.startswith(".") else f".{body.extension.lower()}")
    if fmt is None:
        raise HitpawError(110400007, f"extension must be one of: {', '.join(EXTENSIONS)}")
    try:
        planned = chain.plan(preset.steps)
    except EngineUnavailableError as exc:
        raise HitpawError(110400005, exc.message) from None
    settings = app.settings
    try:
        data, _ = safefetch.fetch(body.img_url, get_settings().max_bytes, settings.fetch_timeout, _allow(settings.ssrf_allow))
    except safefetch.UnsafeUrl as exc:
        raise HitpawError(100400001, str(exc)) from None
    try:
        picture = decode(data)
    except ImageTooLargeError as exc:
        raise HitpawError(110400009, exc.message) from None
    except StudioError as exc:
        raise HitpawError(100400001, f"the URL does not hold a usable image: {exc.message}") from None
    _check_target(picture.width, picture.height, planned)
    extension = MEDIA.get(picture.source_format or "", ("", "bin"))[1]
    input_key = app.storage.new_key("uploads", user.id, extension)
    app.storage.write(input_key, data)
    with app.db.session() as session:
        if not charge(session, user.id, coins=preset.coins):
            raise HitpawError(110402000, f"{preset.name} costs {preset.coins} coins; the balance is {session.get(User, user.id).coins}")
        job = Job(
            user_id=user.id, api="hitpaw", input_key=input_key, operations=list(preset.steps), model_name=preset.name,
            output_options={"format": fmt, "keep_exif": body.exif, "dpi": body.dpi}, coins=preset.coins,
            source_url=body.img_url,
        )  # fmt: skip
        session.add(job)
        session.flush()
        job_id = job.id
    app.jobs.submit(job_id)
    return ok({"job_id": job_id, "consume_coins": preset.coins})


@router.post("/api/task-status", summary="Query a task's status")
def task_status(body: TaskStatusRequest, request: Request, app: Studio = Depends(studio)) -> dict[str, Any]:
    user = current_user(request)
    with app.db.session() as session:
        job = session.get(Job, body.job_id)
        if job is None or job.user_id != user.id:
            raise HitpawError(110400002)
        data: dict[str, Any] = {
            "job_id": job.id,
            "status": STATUS[job.status],
            "res_url": app.signed_url(request, job.output_key) if job.output_key else "",
            "original_url": job.source_url or app.signed_url(request, job.input_key),
        }
        if job.status == "failed":
            data["error_message"] = job.error_message
        return ok(data)


def _check_target(width: int, height: int, planned: list[chain.PlannedStep]) -> None:
    factor = math.prod(getattr(step.params, "scale", 4 if step.operation.name == "enhance-anime" else 1) for step in planned)
    limit = get_settings().max_pixels
    if width * height * factor * factor > limit:
        raise HitpawError(110400010, f"{width * factor}x{height * factor} is over the limit of {limit / 1e6:.0f} MP")


def _allow(setting: str) -> set[str]:
    return {item.strip() for item in setting.split(",") if item.strip()}
