"""enhance-face: every face found is aligned to the FFHQ frame, restored, and blended back.

Restorers, best first: GFPGAN v1.4 and CodeFormer (by download, through spandrel), and offline
the aligned face brought from its own resolution through FFDNet (noise) and Real-ESRGAN x4plus
(detail) — a real improvement for small or soft faces, reported under its own name. The level
is how much of the restored face is blended in (for CodeFormer: its fidelity weight instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..imageio import Picture
from ..operations.restore import EnhanceFaceParams
from ..restore import align
from ..restore.noise import estimate_sigma
from ..weights import WeightsSource, entry
from .base import ENGINES, Engine, RunContext, register
from .faces import find_faces

if TYPE_CHECKING:  # torch loads with the first model, not with the engine registry
    import torch

    from ..runtime.loader import LoadedNetwork


class FaceRestorer(Engine):
    uses_device = True
    weights: str

    def restore(self, face: np.ndarray, level: float, native: float, int8: bool = False) -> tuple[np.ndarray, float]:
        """(restored 512x512 float RGB, how much of it to blend in); ``int8``: the job's speed mode."""
        raise NotImplementedError

    def run(self, picture: Picture, params: EnhanceFaceParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        from ..runtime.apply import from_float_rgb, to_float_rgb

        faces, detector = find_faces(picture.rgb)
        usable = [f for f in faces if f.landmarks is not None and not np.isnan(f.landmarks[:2]).any()]
        ctx.detail(face_detector=detector, faces=len(usable), weights=self.weights)
        if notice := entry(self.weights).notice:
            ctx.warn(notice)
        if len(usable) < len(faces):
            ctx.warn(f"{len(faces) - len(usable)} face(s) found without landmarks were left as they are (python -m ops weights fetch dlib-face-landmarks)")
        if not usable:
            ctx.warn("no face was found; the image is unchanged")
            return picture
        image = to_float_rgb(picture.pixels)
        out = image.copy()
        for index, face in enumerate(usable):
            matrix = align.similarity(face.landmarks, nose_is_base=bool(np.isnan(face.landmarks[3:]).all()))
            aligned = align.align(image, matrix)
            restored, amount = self.restore(aligned, params.enhancement_level, align.SIZE / align.scale_of(matrix), ctx.int8)
            restored = align.match_colour(restored, aligned, align.face_mask())
            out = align.paste(out, restored, matrix, amount)
            ctx.report((index + 1) / len(usable), f"face {index + 1}/{len(usable)}")
        return picture.with_pixels(from_float_rgb(np.clip(out, 0, 1), picture.pixels))


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

    def network(self, int8: bool = False) -> LoadedNetwork:
        from ..runtime.loader import load

        return load(WeightsSource(self.weights), int8=int8)

    def warm(self) -> None:
        self.network().call.prepare([(align.SIZE, align.SIZE)])

    def run(self, picture: Picture, params: EnhanceFaceParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        network = self.network(ctx.int8)
        ctx.detail(backend=network.backend)  # chosen by measurement on the CPU (ops.runtime.backends)
        for note in network.notes:
            ctx.warn(note)
        return super().run(picture, params, ctx)

    def restore(self, face: np.ndarray, level: float, native: float, int8: bool = False) -> tuple[np.ndarray, float]:
        import torch

        x = _tensor(face)
        if self.fidelity:
            x = torch.cat([x, torch.full_like(x[:, :1], 1.0 - level)], 1)
        return _image(self.network(int8).call(x)), 1.0 if self.fidelity else level


class AlignedRealESRGAN(FaceRestorer):
    name = "aligned-realesrgan"
    weights = "ffdnet-color"
    description = "Offline: the aligned face from its own resolution through FFDNet (noise) and Real-ESRGAN x4plus (detail)"

    def unavailable_reason(self) -> str | None:
        return super().unavailable_reason() or ENGINES["realesrgan-x4plus"].unavailable_reason()

    def restore(self, face: np.ndarray, level: float, native: float, int8: bool = False) -> tuple[np.ndarray, float]:
        import cv2

        from ..runtime.apply import apply_network
        from ..runtime.device import device
        from ..runtime.loader import load
        from ..runtime.tiling import upscale_array
        from .denoise import ffdnet

        side = int(np.clip(round(native / 4) * 4, 64, 192))  # the face at about its own resolution
        small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        sigma = estimate_sigma(small)
        if sigma > 2:
            net = ffdnet()
            small = apply_network(lambda t: net(t, sigma / 255), small)
        source = ENGINES["realesrgan-x4plus"].source()  # type: ignore[attr-defined]
        sr = load(source)
        big = upscale_array(sr.call, np.ascontiguousarray(small), sr.scale, device(), sr.half)
        return cv2.resize(big, (align.SIZE, align.SIZE), interpolation=cv2.INTER_LANCZOS4 if big.shape[0] < align.SIZE else cv2.INTER_AREA), level


for _engine in (
    SpandrelFaceRestorer("gfpgan-v1.4", "gfpgan-v1.4", "GFPGAN v1.4 (download): clean, crisp faces", fidelity=False),
    SpandrelFaceRestorer("codeformer", "codeformer", "CodeFormer (download; non-commercial licence): level = 1 - fidelity weight", fidelity=True),
    AlignedRealESRGAN(),
):
    register(_engine)
