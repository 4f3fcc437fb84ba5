"""Spec 000: upload, jobs made of chains of operations, status polling, downloads."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from ops import chain
from ops.errors import StudioError
from ops.imageio import decode
from ops.imageio.writer import FORMAT_ALIASES
from ops.settings import get_settings

from .accounts import TIERS, charge
from .db import Job, User
from .errors import ApiError
from .schemas import AccountResponse, JobCreate, JobList, JobResponse, StepReport, UploadResponse, iso
from .state import Studio, studio
from .storage import NotFound

router = APIRouter(prefix="/api/v1", tags=["spec 000: jobs"])
MEDIA = {"JPEG": ("image/jpeg", "jpg"), "MPO": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp"),
         "GIF": ("image/gif", "gif"), "BMP": ("image/bmp", "bmp"), "TIFF": ("image/tiff", "tif"), "HEIF": ("image/heic", "heic"),
         "AVIF": ("image/avif", "avif")}  # fmt: skip


def current_user(request: Request) -> User:
    user = getattr(request.state, "user", None)
    if user is None:
        raise ApiError(401, "unauthorized", "an API key is required for this endpoint")
    return user


def studio_error(exc: StudioError) -> ApiError:
    errors = [{"loc": v.location, "msg": v.message} for v in getattr(exc, "violations", [])]
    return ApiError(exc.http_status, exc.code, exc.message, errors)


def accept_image(app: Studio, user: User, data: bytes, filename: str) -> UploadResponse:
    """Decode fully (a truncated or hostile file fails here, not later in a job) and store it."""
    try:
        picture = decode(data)
    except StudioError as exc:
        raise studio_error(exc) from None
    content_type, extension = MEDIA.get(picture.source_format or "", ("application/octet-stream", "bin"))
    key = app.storage.new_key("uploads", user.id, extension)
    app.storage.write(key, data)
    safe_name = re.sub(r"[^A-Za-z0-9._ -]", "_", Path(filename or "image").name)[:120] or "image"
    return UploadResponse(storage_key=key, filename=safe_name, size=len(data), content_type=content_type, width=picture.width, height=picture.height)


@router.post("/upload/api", response_model=UploadResponse, summary="Upload an image to get a storage key")
async def upload(request: Request, file: UploadFile = File(...), app: Studio = Depends(studio)) -> UploadResponse:
    user = current_user(request)
    limit = get_settings().max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "file_too_large", f"the file is over the limit of {limit:,} bytes")
    return await run_in_threadpool(accept_image, app, user, data, file.filename or "image")


@router.post("/jobs/api", response_model=JobResponse, status_code=201, summary="Create a job: a chain of operations")
def create_job(body: JobCreate, request: Request, app: Studio = Depends(studio)) -> JobResponse:
    user = current_user(request)
    try:
        planned = chain.plan([step.model_dump() for step in body.operations])
    except StudioError as exc:
        raise studio_error(exc) from None
    try:
        app.storage.path(body.input_key, user.id)
    except NotFound:
        raise ApiError(404, "input_not_found", f"no upload {body.input_key!r} for this account") from None
    cost = sum(step.credits for step in planned)
    output = body.output.model_dump()
    options = {"format": FORMAT_ALIASES.get(output["format"] or ""), "keep_exif": output["exif"], "dpi": output["dpi"]}
    with app.db.session() as session:
        if not charge(session, user.id, credits=cost):
            balance = session.get(User, user.id).credits
            raise ApiError(402, "insufficient_credits", f"this job costs {cost} credits; the balance is {balance}")
        job = Job(user_id=user.id, input_key=body.input_key, operations=[s.model_dump() for s in body.operations], output_options=options, credits=cost)
        session.add(job)
        session.flush()
        response = to_response(app, request, job)
    app.jobs.submit(response.id)
    return response


@router.get("/jobs/api/{job_id}", response_model=JobResponse, summary="Job status; poll until completed or failed")
def get_job(job_id: str, request: Request, app: Studio = Depends(studio)) -> JobResponse:
    user = current_user(request)
    with app.db.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.user_id != user.id:
            raise ApiError(404, "job_not_found", f"no job {job_id!r} for this account")
        return to_response(app, request, job)


@router.get("/jobs/api", response_model=JobList, summary="This account's jobs, newest first")
def list_jobs(request: Request, limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0), app: Studio = Depends(studio)) -> JobList:
    user = current_user(request)
    with app.db.session() as session:
        total = session.scalar(select(func.count()).select_from(Job).where(Job.user_id == user.id)) or 0
        jobs = session.scalars(select(Job).where(Job.user_id == user.id).order_by(Job.created_at.desc()).limit(limit).offset(offset)).all()
        return JobList(jobs=[to_response(app, request, job) for job in jobs], total=total)


@router.get("/files/{key:path}", summary="Download an upload or a result (API key, or a signed link)", response_class=FileResponse)
def download(key: str, request: Request, expires: str | None = None, signature: str | None = None, app: Studio = Depends(studio)) -> FileResponse:
    user = getattr(request.state, "user", None)
    owner = key.split("/")[1] if key.count("/") >= 2 else ""
    if user is not None:
        owner = user.id
    elif not app.valid_signature(key, expires, signature):
        raise ApiError(403, "bad_signature", "the link is invalid or has expired")
    try:
        path = app.storage.path(key, owner)
    except NotFound:
        raise ApiError(404, "file_not_found", f"no file {key!r} for this account") from None
    return FileResponse(path, filename=path.name)


@router.get("/account", response_model=AccountResponse, summary="This account: tier, balance, limits")
def account(request: Request, app: Studio = Depends(studio)) -> AccountResponse:
    user = current_user(request)
    with app.db.session() as session:
        fresh = session.get(User, user.id)
        tier = TIERS[fresh.tier]
        limits = {"per_minute": tier.per_minute, "per_month": tier.per_month, "max_keys": tier.max_keys}
        return AccountResponse(id=fresh.id, email=fresh.email, tier=fresh.tier, credits=fresh.credits, coins=fresh.coins, limits=limits)


def to_response(app: Studio, request: Request, job: Job) -> JobResponse:
    result = job.result or {}
    steps = [StepReport(**{k: s.get(k) for k in StepReport.model_fields if k in s}) for s in result.get("steps", [])]
    return JobResponse(
        id=job.id,
        status=job.status,  # type: ignore[arg-type]
        input_url=job.input_key,
        output_url=job.output_key,
        error_message=job.error_message,
        created_at=iso(job.created_at) or "",
        updated_at=iso(job.updated_at) or "",
        progress=job.progress,
        credits=job.credits,
        operations=job.operations,
        engines=[s.engine for s in steps],
        warnings=result.get("warnings", []),
        steps=steps,
        download_url=app.signed_url(request, job.output_key) if job.output_key else None,
    )
