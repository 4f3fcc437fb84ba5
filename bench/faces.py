"""Faces that stay the same person: enhance-face engines on portraits brought down to 128 px and
saved as JPEG q40, scored against the originals.

Each portrait is cropped square around its largest face (2.4 face widths) and resized to 512 px:
the original. It is taken down to 128 px (area) and saved as JPEG quality 40 (the degraded
portrait), then Lanczos-upscaled to 512 px: the input every engine gets, and the baseline. Per
engine: identity distance to the original (dlib's ResNet descriptor, both faces read through the
original's landmarks: < 0.6 is the same person), PSNR (RGB) and SSIM (luma) on the face box,
sharpness (variance of the Laplacian on the face box; the original's is the ceiling a faithful
result should approach, not pass), the identity guard's action and seconds.

Portraits: ``examples/portrait.jpg`` (tuned on) and any files given; held out here: the test images
of the ``face_recognition`` 1.3.0 sdist (``tests/test_images/{obama,obama2,obama3,biden}.jpg``) and
matplotlib's ``mpl-data/sample_data/grace_hopper.jpg`` (all US-government or public-domain
photos; ``pip download --no-deps`` and extract them, never commit them).
With ``--presets``: spec 002's face model names instead, on the 128 px degraded portrait itself
(their own 2x upscale included), scored against the original at 256 px: "Clear" must be the
sharper, "Natural" the more faithful.
Usage: python bench/faces.py [PHOTO ...] [--engines lanczos,aligned-realesrgan,faithful-face] [--presets face_2x,face_v2_2x] [--save DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SIDE, SMALL, QUALITY = 512, 128, 40


def original(rgb: np.ndarray) -> np.ndarray | None:
    """The 512 px square crop around the largest face, or None when no face is found."""
    from ops.engines.faces import find_faces

    faces, _ = find_faces(rgb)
    if not faces:
        return None
    x0, y0, x1, y1 = max(faces, key=lambda f: f.box[2] - f.box[0]).box
    side = int(2.4 * (x1 - x0))
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2 - (y1 - y0) // 10
    padded = cv2.copyMakeBorder(rgb, side, side, side, side, cv2.BORDER_REFLECT)
    crop = padded[cy - side // 2 + side : cy + side // 2 + side, cx - side // 2 + side : cx + side // 2 + side]
    return cv2.resize(crop, (SIDE, SIDE), interpolation=cv2.INTER_AREA if side > SIDE else cv2.INTER_LANCZOS4)


def degraded(truth: np.ndarray) -> np.ndarray:
    """128 px, JPEG q40, decoded."""
    small = cv2.resize(truth, (SMALL, SMALL), interpolation=cv2.INTER_AREA)
    _, data = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def lanczos(small: np.ndarray) -> np.ndarray:
    return cv2.resize(small, (SIDE, SIDE), interpolation=cv2.INTER_LANCZOS4)


class Scorer:
    """Metrics against one original: its face box and its face chip's landmarks, found once."""

    def __init__(self, truth: np.ndarray) -> None:
        from ops.engines.faces import find_faces
        from ops.restore import align, identity

        (face, *_), _ = find_faces(truth)
        self.box = face.box
        self.matrix = align.similarity(face.landmarks, nose_is_base=bool(np.isnan(face.landmarks[3:]).all()))
        chip = self.chip(truth)
        self.shape = identity.landmarks(chip)
        self.reference = identity.descriptor(chip, self.shape)

    def chip(self, rgb: np.ndarray) -> np.ndarray:
        from ops.restore import align

        return align.align(rgb.astype(np.float32) / 255, self.matrix)

    def region(self, rgb: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self.box
        return rgb[max(0, y0) : y1, max(0, x0) : x1]

    def score(self, rgb: np.ndarray, truth: np.ndarray) -> tuple[float, float, float, float]:
        """(identity distance, PSNR, SSIM, sharpness) of ``rgb`` against ``truth``."""
        from fidelity import luma, psnr, ssim

        from ops.restore import identity

        face, real = self.region(rgb), self.region(truth)
        distance = identity.distance(identity.descriptor(self.chip(rgb), self.shape), self.reference)
        return distance, psnr(face, real), ssim(luma(face), luma(real)), sharpness(face)


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the luma (0-255)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def run(engine: str, image: np.ndarray, preset: bool = False) -> tuple[np.ndarray, float, dict]:
    """(output, seconds, the face step's details) of an enhance-face engine or a model name."""
    from ops import chain
    from ops.imageio import Picture

    if engine == "lanczos":
        return image, 0.0, {}
    started = time.perf_counter()
    steps = chain.plan_model(engine) if preset else chain.plan([{"type": "enhance-face", "engine": engine}])
    result = chain.run(Picture(image), steps)
    face = next(s for s in result.steps if s.operation == "enhance-face")
    return result.picture.pixels, time.perf_counter() - started, face.details | {"engine": face.engine}


def main() -> None:
    from PIL import Image

    from ops.runtime.backends.verdicts import cpu_flags

    parser = argparse.ArgumentParser()
    parser.add_argument("photos", nargs="*", type=Path, help="more portraits (held-out faces)")
    parser.add_argument("--engines", default="lanczos,aligned-realesrgan,faithful-face")
    parser.add_argument("--presets", help="model names (e.g. face_2x,face_v2_2x) instead of engines")
    parser.add_argument("--save", type=Path, help="write original | input | engines strips (PNG) here")
    args = parser.parse_args()
    engines = ["lanczos", *args.presets.split(",")] if args.presets else args.engines.split(",")
    side = 2 * SMALL if args.presets else SIDE
    what = f"model names on the {SMALL} px JPEG (their 2x upscale included), against the original at {side} px" if args.presets else f"Lanczos back to {SIDE}"
    print(f"enhance-face, {SIDE} px portraits taken to {SMALL} px + JPEG q{QUALITY}, {what}; CPU flags: {cpu_flags()}")
    print(f"{'photo':<16}{'engine':<20}{'identity':>9}{'PSNR':>8}{'SSIM':>7}{'sharp':>8}{'s':>7}  guard")
    totals: dict[str, list[tuple[float, float, float, float, float]]] = {e: [] for e in engines}
    for path in [ROOT / "examples" / "portrait.jpg", *args.photos]:
        truth = original(np.asarray(Image.open(path).convert("RGB")))
        if truth is None:
            print(f"{path.name}: no face found, skipped")
            continue
        small = degraded(truth)
        if args.presets:
            truth = cv2.resize(truth, (side, side), interpolation=cv2.INTER_AREA)
        scorer = Scorer(truth)
        given = cv2.resize(small, (side, side), interpolation=cv2.INTER_LANCZOS4)
        print(f"{path.stem[:15]:<16}{'(original)':<20}{0:>9.3f}{'':>8}{'':>7}{sharpness(scorer.region(truth)):>8.0f}")
        strip = [truth, given]
        for engine in engines:
            out, seconds, details = run(engine, small if args.presets and engine != "lanczos" else given, bool(args.presets))
            distance, db, similarity, sharp = scorer.score(out, truth)
            totals[engine].append((distance, db, similarity, sharp, seconds))
            guard = ", ".join(f"{a} ({b}->{c})" for a, b, c in zip(details.get("identity_action", []), details.get("identity_distance", []), details.get("identity_distance_after", [])))
            ran = f" [{details['engine']}]" if args.presets and "engine" in details else ""
            print(f"{'':<16}{engine:<20}{distance:>9.3f}{db:>8.2f}{similarity:>7.3f}{sharp:>8.0f}{seconds:>7.1f}  {guard}{ran}")
            strip.append(out)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            x0, y0, x1, y1 = scorer.box
            pad = (x1 - x0) // 3
            crops = [s[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] for s in strip]
            Image.fromarray(np.concatenate(crops, axis=1)).save(args.save / f"{path.stem}.png")
    print("\nmean over the photos")
    for engine, rows in totals.items():
        if rows:
            d, db, s, sh, sec = np.mean(rows, axis=0)
            print(f"{'':<16}{engine:<20}{d:>9.3f}{db:>8.2f}{s:>7.3f}{sh:>8.0f}{sec:>7.1f}")


if __name__ == "__main__":
    main()
