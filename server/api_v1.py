"""Spec 000: upload, jobs made of chains of operations, status polling, downloads."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Depends, File, Query, Request, Security, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from ops import chain
from ops.chain import StepRecord
from ops.errors import BusyError, StudioError
from ops.imageio import decode
from ops.imageio.writer import FORMAT_ALIASES
from ops.run_config import RunConfig
from service.db import Job, iso
from service.storage import NotFound, content_type, media
from service.studio import Studio
from service.terms import Caller, Price, Refusal

from .deps import studio
from .errors import ApiError, v1_refusal
from .openapi import BEARER, V1_STATUSES, V1Error, error_responses, ok_response
from .schemas import AccountResponse, JobCreate, JobList, JobResponse, UploadResponse

router = APIRouter(
    prefix="/api/v1", tags=["spec 000: jobs"], dependencies=[Security(BEARER)], responses=error_responses(V1Error, V1_STATUSES) | ok_response()
)
UPLOAD_WAIT = 10  # seconds an upload waits for the memory budget before 503


def current_caller(request: Request) -> Caller:
    caller = getattr(request.state, "caller", None)
    if caller is None:
        raise ApiError(401, "unauthorized", "an API key is required for this endpoint")
    return caller


def studio_error(exc: StudioError) -> ApiError:
    errors = [{"loc": v.location, "msg": v.message} for v in getattr(exc, "violations", [])]
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, BusyError) else None
    return ApiError(exc.http_status, exc.code, exc.message, errors, headers)


def accept_image(app: Studio, caller: Caller, data: bytes, filename: str) -> UploadResponse:
    """Decode fully (a truncated or hostile file fails here, not later in a job) and store it."""
    try:
        picture = decode(data, memory_wait=UPLOAD_WAIT)
    except StudioError as exc:
        raise studio_error(exc) from None
    source_format, width, height = picture.source_format or "", picture.width, picture.height
    del picture  # the pixels go now, not when this request's frame is collected
    key = app.storage.upload(caller.user_id, data, source_format)
    safe_name = re.sub(r"[^A-Za-z0-9._ -]", "_", Path(filename or "image").name)[:120] or "image"
    return UploadResponse(storage_key=key, filename=safe_name, size=len(data), content_type=media(source_format)[0], width=width, height=height)


@router.post("/upload/api", response_model=UploadResponse, summary="Upload an image to get a storage key")
async def upload(request: Request, file: UploadFile = File(...), app: Studio = Depends(studio)) -> UploadResponse:
    caller = current_caller(request)
    limit = app.settings.max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, "file_too_large", f"the file is over the limit of {limit:,} bytes")
    return await run_in_threadpool(accept_image, app, caller, data, file.filename or "image")


@router.post("/jobs/api", response_model=JobResponse, status_code=201, summary="Create a job: a chain of operations",
             responses={402: {"model": V1Error, "description": "Not enough credits"}})  # fmt: skip
def create_job(body: JobCreate, request: Request, app: Studio = Depends(studio)) -> JobResponse:
    caller = current_caller(request)
    try:
        planned = chain.plan([step.model_dump() for step in body.operations], run=RunConfig.of(app.settings))
    except StudioError as exc:
        raise studio_error(exc) from None
    try:
        app.storage.check(body.input_key, caller.user_id or "")
    except NotFound:
        raise ApiError(404, "input_not_found", f"no upload {body.input_key!r} for this account") from None
    output = body.output.model_dump()
    options = {"format": FORMAT_ALIASES.get(output["format"] or ""), "keep_exif": output["exif"], "dpi": output["dpi"]}
    try:
        job_id = app.service.create_job(
            caller, Price.of_steps(planned), input_key=body.input_key, operations=[s.model_dump() for s in body.operations], output_options=options
        )
    except Refusal as refusal:
        raise v1_refusal(refusal) from None
    app.jobs.submit(job_id)
    return get_job(job_id, request, app)


@router.get("/jobs/api/{job_id}", response_model=JobResponse, summary="Job status; poll until completed or failed")
def get_job(job_id: str, request: Request, app: Studio = Depends(studio)) -> JobResponse:
    caller = current_caller(request)
    with app.db.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.user_id != caller.user_id:
            raise ApiError(404, "job_not_found", f"no job {job_id!r} for this account")
        return to_response(app, request, job)


@router.get("/jobs/api", response_model=JobList, summary="This account's jobs, newest first")
def list_jobs(
    request: Request, limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0, le=1_000_000_000), app: Studio = Depends(studio)
) -> JobList:
    caller = current_caller(request)
    with app.db.session() as session:
        total = session.scalar(select(func.count()).select_from(Job).where(Job.user_id == caller.user_id)) or 0
        jobs = session.scalars(select(Job).where(Job.user_id == caller.user_id).order_by(Job.created_at.desc()).limit(limit).offset(offset)).all()
        return JobList(jobs=[to_response(app, request, job) for job in jobs], total=total)


FILE_CONTENT = {"content": {"image/*": {"schema": {"type": "string", "format": "binary"}}, "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


@router.get("/files/{key:path}", summary="Download an upload or a result (API key, or a signed link)", response_class=StreamingResponse,
            responses={200: {"description": "The file", **FILE_CONTENT}})  # fmt: skip
def download(key: str, request: Request, expires: str | None = None, signature: str | None = None, app: Studio = Depends(studio)) -> StreamingResponse:
    caller = getattr(request.state, "caller", None)
    owner = key.split("/")[1] if key.count("/") >= 2 else ""
    if caller is not None:
        owner = caller.user_id
    elif not app.valid_signature(key, expires, signature):
        raise ApiError(403, "bad_signature", "the link is invalid or has expired")
    try:
        chunks = app.storage.stream(key, owner)
    except NotFound:
        raise ApiError(404, "file_not_found", f"no file {key!r} for this account") from None
    name = key.rsplit("/", 1)[1]
    return StreamingResponse(chunks, media_type=content_type(name), headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/account", response_model=AccountResponse, summary="This account: tier, balance, limits")
def account(request: Request, app: Studio = Depends(studio)) -> AccountResponse:
    return app.service.account(current_caller(request))  # the response model leaves out the UI's usage counts


def to_response(app: Studio, request: Request, job: Job) -> JobResponse:
    result = job.result or {}
    steps = [StepRecord.model_validate(step) for step in result.get("steps", [])]
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
        download_url=app.signed_url(str(request.base_url), job.output_key) if job.output_key else None,
    )
