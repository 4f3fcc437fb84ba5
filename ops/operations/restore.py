"""Faces and restoration (spec 000: enhance-face, denoise, deblur, restore-old-photo)."""

from __future__ import annotations

from pydantic import Field

from ..operation import Operation
from ..params import Params
from .fields import Level


class EnhanceFaceParams(Params):
    enhancement_level: Level = Field(0.8, description="0 keeps the original face, 1 applies the full restoration.")


class DenoiseParams(Params):
    enhancement_level: Level = Field(0.5, description="Denoising strength, 0 (none) to 1 (strongest).")


class DeblurParams(Params):
    strength: float = Field(1.0, ge=0.5, le=1.5, description="Deblurring strength, 0.5 (gentle) to 1.5 (strong).")


class RestoreOldPhotoParams(Params):
    face_enhancement_level: Level = Field(0.7, description="Face restoration strength.")
    auto_repair_damage: bool = Field(True, description="Detect and inpaint scratches, dust and tears.")
    color_boost: float = Field(1.0, ge=1.0, le=2.0, description="Saturation boost applied after restoration.")
    enable_colorization: bool = Field(False, description="Colorize a black-and-white photo.")
    colorization_strength: Level = Field(1.0, description="Blend of the colorized result over the original.")


ENHANCE_FACE = Operation(
    name="enhance-face",
    summary="Restore and sharpen faces in portraits and group photos",
    params=EnhanceFaceParams,
    group="Faces & Restore",
    engines=("gfpgan-v1.4", "codeformer", "faithful-face", "aligned-realesrgan"),
    credits=2,
    label="Restore faces",
)

DENOISE = Operation(
    name="denoise",
    summary="Remove noise and JPEG artifacts",
    params=DenoiseParams,
    group="Faces & Restore",
    engines=("scunet", "drunet", "ffdnet"),
    credits=1,
)

DEBLUR = Operation(
    name="deblur",
    summary="Remove motion/focus blur and sharpen",
    params=DeblurParams,
    group="Faces & Restore",
    engines=("nafnet-gopro", "hqs-ffdnet"),
    credits=1,
)

RESTORE_OLD_PHOTO = Operation(
    name="restore-old-photo",
    summary="Restore vintage photos — face repair, colorization, damage repair",
    params=RestoreOldPhotoParams,
    group="Faces & Restore",
    engines=("old-photo-pipeline",),
    credits=3,
)
