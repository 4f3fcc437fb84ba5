"""enhance-face: every face found is aligned to the FFHQ frame, restored, checked, and blended back.

Restorers, best first: GFPGAN v1.4 and CodeFormer (by download, through spandrel); offline,
``faithful-face`` (deblocking, denoising and a PSNR-trained upscaler at the face's measured
resolution, then a halo-bounded unsharp mask: sharper than the input, never another person) and
``aligned-realesrgan`` (the face through FFDNet and Real-ESRGAN x4plus: sharper, invents texture).
The level is how much of the restored face is blended in (for CodeFormer: its fidelity weight).

Every restored face, whatever the engine, goes through the identity guard
(``ops.restore.identity``): dlib's face descriptor of the restored face against the input face;
past the threshold the input face is blended back until it is within it. The job details say
the distances and what was done.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..imageio import Picture
from ..models import model, use
from ..operations.restore import EnhanceFaceParams
from ..restore import align, identity
from ..restore.noise import estimate_sigma
from ..run_config import RunConfig
from .base import Engine, RunContext, register
from .faces import find_faces

if TYPE_CHECKING:  # torch loads with the first model, not with the engine registry
    import torch


@dataclass(frozen=True)
class Restored:
    face: np.ndarray  # 512x512 float RGB in the template frame
    amount: float  # how much of it to blend in
    facts: dict[str, Any] = field(default_factory=dict)  # what was measured and done, for the job details


class FaceRestorer(Engine):
    uses_device = True
    keeps_colour = True  # the picture keeps the input's low-frequency colour (ops.restore.colour)
    weights: str

    @abstractmethod
    def restore(self, face: np.ndarray, level: float, native: float, ctx: RunContext, around: np.ndarray | None = None) -> Restored:
        """The restored face. ``native``: the template frame's side in picture pixels; ``around``:
        the picture around the face (float RGB, its own pixel grid); ``ctx``: the job (its speed
        mode, its warnings)."""

    def load(self, faces: int, ctx: RunContext) -> None:
        """Before any face: load what restores them, its work for ``faces`` faces checked."""
        return None

    def run(self, picture: Picture, params: EnhanceFaceParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        from ..runtime.apply import from_float_rgb, to_float_rgb

        faces, detector = find_faces(picture.rgb, ctx)
        usable = [f for f in faces if f.landmarks is not None and not np.isnan(f.landmarks[:2]).any()]
        ctx.detail(face_detector=detector, faces=len(usable), weights=self.weights)
        self.load(len(usable), ctx)
        if len(usable) < len(faces):
            ctx.warn(f"{len(faces) - len(usable)} face(s) found without landmarks were left as they are (python -m ops weights fetch dlib-face-landmarks)")
        if not usable:
            ctx.warn("no face was found; the image is unchanged")
            return picture
        checked = identity.available()
        if not checked:
            ctx.warn("identity was not checked: dlib's face descriptor is not installed (python -m ops weights fetch dlib-face-landmarks)")
        image = to_float_rgb(picture.pixels)
        out = image.copy()
        verdicts: list[identity.Guarded] = []
        facts: list[dict[str, Any]] = []
        for index, face in enumerate(usable):
            matrix = align.similarity(face.landmarks, nose_is_base=bool(np.isnan(face.landmarks[3:]).all()))
            aligned = align.align(image, matrix)
            result = self.restore(aligned, params.enhancement_level, align.SIZE / align.scale_of(matrix), ctx, _around(image, face.box))
            restored = align.match_colour(result.face, aligned, align.face_mask())
            amount = result.amount
            if checked:
                verdicts.append(identity.guard(aligned, restored, amount))
                amount = verdicts[-1].amount
            facts.append(result.facts)
            out = align.paste(out, restored, matrix, amount)
            ctx.report((index + 1) / len(usable), f"face {index + 1}/{len(usable)}")
        if any(facts):
            ctx.detail(face_steps=facts)
        if verdicts:
            ctx.detail(
                identity_threshold=identity.THRESHOLD,
                identity_distance=[v.before for v in verdicts],
                identity_distance_after=[v.after for v in verdicts],
                identity_action=[v.action for v in verdicts],
            )
            for number, verdict in enumerate(verdicts, 1):
                if verdict.action != "kept":
                    ctx.warn(f"face {number}: the restored face drifted from the person (identity distance {verdict.before:.2f} > "
                             f"{identity.THRESHOLD}); {verdict.action} (distance now {verdict.after:.2f})")  # fmt: skip
        return picture.with_pixels(from_float_rgb(np.clip(out, 0, 1), picture.pixels))


def _around(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The picture around a face box (half a box more on each side), in its own pixel grid."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return image[max(0, y0 - h // 2) : y1 + h // 2, max(0, x0 - w // 2) : x1 + w // 2]


def _tensor(face: np.ndarray) -> torch.Tensor:
    import torch

    return torch.from_numpy(np.ascontiguousarray(face.transpose(2, 0, 1), dtype=np.float32))[None]


def _image(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)


class SpandrelFaceRestorer(FaceRestorer):
    """GFPGAN or CodeFormer on the backend chosen here (``ops.runtime.signatures``: 512x512 in
    [0, 1]; CodeFormer's fidelity weight as a fourth channel)."""

    def __init__(self, name: str, weights: str, description: str, fidelity: bool) -> None:
        self.name, self.weights, self.description, self.fidelity = name, weights, description, fidelity  # type: ignore[misc]
        self.models = (name,)  # type: ignore[misc]

    def warm(self, run: RunConfig) -> None:
        model(self.name, int8=run.int8).net.call.prepare([(align.SIZE, align.SIZE)])

    def load(self, faces: int, ctx: RunContext) -> None:
        ready = use(self.name, ctx, pixels=align.SIZE**2, calls=faces)  # its licence notice and int8 notes warned
        ctx.detail(backend=ready.backend)  # chosen by measurement on the CPU (ops.runtime.backends)

    def restore(self, face: np.ndarray, level: float, native: float, ctx: RunContext, around: np.ndarray | None = None) -> Restored:
        import torch

        x = _tensor(face)
        if self.fidelity:
            x = torch.cat([x, torch.full_like(x[:, :1], 1.0 - level)], 1)
        return Restored(_image(model(self.name, int8=ctx.int8).net.call(x)), 1.0 if self.fidelity else level)


class AlignedRealESRGAN(FaceRestorer):
    name = "aligned-realesrgan"
    weights = "ffdnet-color"
    models = ("ffdnet", "realesrgan-x4plus")
    description = "Offline, the sharper option: the aligned face from its own resolution through FFDNet (noise) and Real-ESRGAN x4plus (invented detail)"

    def restore(self, face: np.ndarray, level: float, native: float, ctx: RunContext, around: np.ndarray | None = None) -> Restored:
        from ..runtime.apply import infer_tiled
        from ..runtime.device import device
        from ..runtime.tiling import upscale_array

        side = int(np.clip(round(native / 4) * 4, 64, 192))  # the face at about its own resolution
        small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        sigma = estimate_sigma(small)
        if sigma > 2:
            net = use("ffdnet", ctx, pixels=side * side).net
            small = infer_tiled(lambda t: net(t, sigma / 255), small)
        sr = use("realesrgan-x4plus", ctx, pixels=side * side).net
        big = upscale_array(sr.call, np.ascontiguousarray(small), sr.scale, device(), sr.half)
        return Restored(_to_frame(big), level)


def _to_frame(face: np.ndarray) -> np.ndarray:
    """A square face at any size, resampled to the 512 template frame."""
    return cv2.resize(face, (align.SIZE, align.SIZE), interpolation=cv2.INTER_LANCZOS4 if face.shape[0] < align.SIZE else cv2.INTER_AREA)


#: the face is worked on at the smallest side whose area-down, Lanczos-up round trip keeps this
#: PSNR over the face (measured, bench/faces.py: a 128 px JPEG Lanczos-upscaled 4x comes out at
#: 96-160 px, about its source resolution; a sharp face keeps 200-450 px)
ROUND_TRIP_DB = 42.0
NOISY = 3.0  # sigma (of 255) from which FFDNet runs first: JPEG q30-q95 faces measure 0.8-1.7 here
#: JPEG grid strength -> waifu2x JPEG-noise level, from PSNR on six faces at q30-q95 and clean
#: (q30-q60 measure 1.14-1.56 and gain most at level 3; q80 1.10-1.27, level 2-3; q95 and clean
#: 1.02-1.11, where only level 0 does not smooth real detail away)
GRID_LEVELS = ((1.2, 3), (1.12, 2), (0.0, 0))
SHARPEN = 3.0  # unsharp-mask amount on luma: 2.4x the Lanczos input's sharpness, +0.7 dB; 4 looked crunchy on wrinkles
HALO = 2 / 255  # how far a sharpened pixel may pass its neighbourhood's darkest or brightest
CORING = 1 / 255  # detail below this (flat skin) is not amplified ...
#: ... nor below this many times the noise measured: on portraits with sigma 8-15 noise at 128 px,
#: Lanczos-upscaled (correlated, so FFDNet takes little), sharpening lost 0.1-0.3 dB without it
NOISE_CORING = 2.0


def work_side(face: np.ndarray, native: float) -> int:
    """The side (multiple of 16, 64 up to the face's own size in the picture) below which the face
    frame loses detail: a face upscaled before it came here is worked on at its real resolution."""
    mask = align.face_mask() > 0.5
    top = int(min(max(native, 64), align.SIZE))
    for side in range(64, top, 16):
        small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        back = cv2.resize(small, (align.SIZE, align.SIZE), interpolation=cv2.INTER_LANCZOS4)
        if 10 * np.log10(1 / max(float(np.mean((back - face)[mask] ** 2)), 1e-12)) >= ROUND_TRIP_DB:
            return side
    return top


def grid_strength(around: np.ndarray) -> float:
    """How strongly a JPEG block grid shows in the picture around a face, at any integer upscale
    (periods 24 and 32 hold the grid of 8 px blocks enlarged 1, 2, 3 or 4 times): per axis, the
    strongest position's mean step (capped, so a few edges do not count) over the median position's."""
    grey = cv2.cvtColor(np.ascontiguousarray(around, np.float32), cv2.COLOR_RGB2GRAY)
    best = 1.0
    for period in (24, 32):
        axes = []
        for axis in (1, 0):
            steps = np.abs(np.diff(grey, axis=axis))
            if steps.shape[axis] < 2 * period:
                break
            steps = np.minimum(steps, np.percentile(steps, 80) + 1e-6)
            lines = steps.mean(axis=1 - axis)
            profile = np.array([lines[k::period].mean() for k in range(period)])
            axes.append(float(profile.max() / max(np.median(profile), 1e-9)))
        if len(axes) == 2:
            best = max(best, min(axes))
    return best


def sharpen(face: np.ndarray, radius: float, sigma: float = 0.0) -> np.ndarray:
    """Unsharp mask on luma only (colour stays), cored (flat skin and noise of ``sigma``, 0-255, get
    no texture) and clamped to each pixel's neighbourhood range plus :data:`HALO` (edges get
    crisper, never a bright rim)."""
    ycc = cv2.cvtColor(np.ascontiguousarray(face, np.float32), cv2.COLOR_RGB2YCrCb)
    luma = ycc[..., 0]
    detail = luma - cv2.GaussianBlur(luma, (0, 0), radius)
    detail *= np.clip(np.abs(detail) / max(CORING, NOISE_CORING * sigma / 255) - 1, 0, 1)
    window = np.ones((2 * int(np.ceil(radius)) + 1,) * 2, np.uint8)
    ycc[..., 0] = np.clip(luma + SHARPEN * detail, cv2.erode(luma, window) - HALO, cv2.dilate(luma, window) + HALO)
    return np.clip(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB), 0, 1)


class FaithfulFace(FaceRestorer):
    """Fidelity first: the face at its measured resolution, cleaned at the measured level, brought up
    by a network trained for PSNR, edges recovered by a bounded unsharp mask. No texture is invented,
    so the person, the eyes behind glasses and the expression stay. On six portraits at 128 px JPEG
    q40, Lanczos-upscaled (bench/faces.py): 2.4x the input's sharpness, +0.7 dB, identity distance
    to the originals 0.256 on average against Lanczos's 0.274 (never more than 0.006 further)."""

    name = "faithful-face"
    weights = "waifu2x-photo-jpeg"
    models = ("waifu2x-photo", "ffdnet")
    description = "Offline, fidelity first: deblocking/denoising at the measured level, waifu2x photo upscaling (PSNR-trained), halo-free sharpening"

    def restore(self, face: np.ndarray, level: float, native: float, ctx: RunContext, around: np.ndarray | None = None) -> Restored:
        from ..runtime.apply import infer_tiled

        side = work_side(face, native)
        small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        sigma = residual = estimate_sigma(small)
        if sigma >= NOISY:
            net = use("ffdnet", ctx, pixels=side * side).net
            small = np.clip(infer_tiled(lambda t: net(t, sigma / 255), small), 0, 1)
            residual = estimate_sigma(small)  # what FFDNet left (correlated noise of an upscaled picture)
        grid = grid_strength(face if around is None else around)
        jpeg = next(lv for floor, lv in GRID_LEVELS if grid >= floor)
        big = np.clip(infer_tiled(use("waifu2x-photo", ctx, pixels=side * side, level=jpeg).net, small, scale=2), 0, 1)  # one pass: a second 2x measured no better
        radius = float(np.clip(0.4 * align.SIZE / side, 0.5, 3.0))  # about one source pixel
        facts = {"side": side, "noise_sigma": round(sigma, 2), "denoised": bool(sigma >= NOISY), "jpeg_grid": round(grid, 2), "jpeg_level": jpeg, "sharpen_radius": round(radius, 2)}
        return Restored(sharpen(_to_frame(big), radius, residual), level, facts)  # the noise left is not sharpened


for _engine in (
    SpandrelFaceRestorer("gfpgan-v1.4", "gfpgan-v1.4", "GFPGAN v1.4 (download): clean, crisp faces", fidelity=False),
    SpandrelFaceRestorer("codeformer", "codeformer", "CodeFormer (download; non-commercial licence): level = 1 - fidelity weight", fidelity=True),
    FaithfulFace(),
    AlignedRealESRGAN(),
):
    register(_engine)
