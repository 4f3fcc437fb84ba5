"""Which fill would a person keep: real photos with object-sized box holes (each side 10-20% of the
photo's, at several positions), filled by OpenCV's Telea and Navier-Stokes and by every installed
remove-object engine (through the engine's own crop-and-paste frame, as the CLI runs it), and
scored against the original inside the hole.

Photos come from two sources: the example photos (the offline fill was tuned on them and on the
first four scikit-image photos) and scikit-image's bundled photos it was not tuned on (held out),
plus any folder given with --photos. Scores per group (mean over photos and holes): PSNR inside
the hole, SSIM on luminance over the hole's box with 8 px around (higher is better), the texture
distance (L1 between gradient-magnitude histograms of the fill and of a ring of untouched
surroundings; lower is a fill as busy as its neighbourhood) and seconds per fill.
--against REV also runs ``ops/restore/patchmatch.py`` as it was at git revision REV (read with
``git show``), to compare a change with what it replaces.
Usage: python bench/inpaint.py [--holes 4] [--seed 0] [--against REV] [--photos DIR] [--pictures DIR]
(--pictures writes one strip per photo: the hole marked, then each fill, cropped around it.)
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TUNED_SKIMAGE = ("motorcycle_left.png", "camera.png", "ihc.png", "coins.png")
HELD_OUT_SKIMAGE = ("brick.png", "grass.png", "gravel.png", "moon.png", "retina.jpg", "hubble_deep_field.jpg", "clock_motion.png", "cell.png")
SIDE = 512  # photos are brought to this long side: the size a person removes objects at


def boxes(height: int, width: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Object-sized holes: boxes with sides of 10-20% of the photo's, anywhere but the outer 4 px."""
    holes = []
    for _ in range(count):
        bw, bh = int(width * rng.uniform(0.1, 0.2)), int(height * rng.uniform(0.1, 0.2))
        x, y = int(rng.integers(4, width - bw - 4)), int(rng.integers(4, height - bh - 4))
        hole = np.zeros((height, width), bool)
        hole[y : y + bh, x : x + bw] = True
        holes.append(hole)
    return holes


def photo_groups(extra: Path | None) -> dict[str, dict[str, np.ndarray]]:
    """{group: {name: RGB}}; scikit-image's photos ship inside its wheel (no download)."""
    from PIL import Image

    def load(path: Path) -> np.ndarray:
        image = np.asarray(Image.open(path).convert("RGB"))
        scale = SIDE / max(image.shape[:2])
        return cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else image

    tuned = {p.stem: load(p) for p in sorted((ROOT / "examples").glob("*.jpg"))}
    groups = {"tuned on": tuned}
    try:
        import skimage.data

        folder = Path(skimage.data.__file__).parent
        tuned.update({name.split(".")[0]: load(folder / name) for name in TUNED_SKIMAGE if (folder / name).exists()})
        groups["held out"] = {name.split(".")[0]: load(folder / name) for name in HELD_OUT_SKIMAGE if (folder / name).exists()}
    except ImportError:
        print("scikit-image is not installed: no held-out photos")
    if extra:
        groups[extra.name] = {p.stem: load(p) for p in sorted(extra.iterdir()) if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}}
    return {name: photos for name, photos in groups.items() if photos}


def module_at(revision: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``patchmatch.fill`` as the file was at ``revision`` (a self-contained module: numpy + OpenCV)."""
    source = subprocess.run(["git", "show", f"{revision}:ops/restore/patchmatch.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "patchmatch_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("patchmatch_then", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["patchmatch_then"] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.fill


def texture_distance(image: np.ndarray, hole: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool) & ~hole
    bins = np.linspace(0, 400, 41)
    inside = np.histogram(np.clip(magnitude[hole], 0, 399), bins)[0] / max(hole.sum(), 1)
    around = np.histogram(np.clip(magnitude[ring], 0, 399), bins)[0] / max(ring.sum(), 1)
    return float(np.abs(inside - around).sum())


def write_strip(target: Path, image: np.ndarray, hole: np.ndarray, results: dict[str, np.ndarray]) -> None:
    """The hole shown in magenta, then every fill, each cropped to the hole with context, labelled."""
    from PIL import Image

    ys, xs = np.nonzero(hole)
    margin = max(np.ptp(ys), np.ptp(xs)) // 2
    box = (slice(max(0, ys.min() - margin), ys.max() + margin), slice(max(0, xs.min() - margin), xs.max() + margin))
    marked = image.copy()
    marked[hole] = (marked[hole] * 0.4 + np.array([255, 0, 255]) * 0.6).astype(np.uint8)
    tiles = []
    for label, picture in {"hole": marked, **results}.items():
        tile = cv2.resize(picture[box], (220, 220), interpolation=cv2.INTER_AREA)
        tile = cv2.copyMakeBorder(tile, 0, 24, 0, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        cv2.putText(tile, label, (4, 238), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=1)).save(target, quality=88, optimize=True)


def scores(out: np.ndarray, image: np.ndarray, hole: np.ndarray) -> tuple[float, float, float]:
    from fidelity import luma, psnr, ssim

    y0, y1 = np.flatnonzero(hole.any(axis=1))[[0, -1]]
    x0, x1 = np.flatnonzero(hole.any(axis=0))[[0, -1]]
    box = (slice(max(0, y0 - 8), y1 + 9), slice(max(0, x0 - 8), x1 + 9))
    return psnr(out[hole], image[hole]), ssim(luma(out[box]), luma(image[box])), texture_distance(out, hole)


def main() -> None:
    from ops.engines import engines_for
    from ops.engines.base import ENGINES, RunContext
    from ops.imageio import Picture
    from ops.registry import get_operation
    from ops.runtime.backends.verdicts import cpu_flags

    parser = argparse.ArgumentParser()
    parser.add_argument("--holes", type=int, default=4, help="box holes per photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--against", help="also run ops/restore/patchmatch.py as it was at this git revision")
    parser.add_argument("--photos", type=Path, help="a folder of more photos (a group of its own)")
    parser.add_argument("--pictures", type=Path, help="write before/after strips (the first hole of each photo) here")
    args = parser.parse_args()
    engines = [name for name, reason in engines_for(get_operation("remove-object")) if reason is None]
    then = module_at(args.against) if args.against else None

    def engine(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        return lambda image, hole: ENGINES[name].inpaint(Picture(image.copy()), hole, RunContext()).pixels  # type: ignore[attr-defined]

    def old(image: np.ndarray, hole: np.ndarray) -> np.ndarray:  # through the same frame as the engine
        from ops.engines.inpaint import PatchFill

        class Then(PatchFill):
            def fill(self, rgb, mask, progress=None, int8=False):  # type: ignore[no-untyped-def]
                return then(rgb, mask)  # type: ignore[misc]

        return Then().inpaint(Picture(image.copy()), hole, RunContext()).pixels

    fills: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "cv2 Telea": lambda image, hole: cv2.inpaint(image, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA),
        "cv2 Navier-Stokes": lambda image, hole: cv2.inpaint(image, hole.astype(np.uint8), 5, cv2.INPAINT_NS),
        **({f"patchmatch@{args.against}": old} if then else {}),
        **{name: engine(name) for name in engines},
    }
    print(f"object-sized box holes (sides 10-20% of the photo's, {args.holes} a photo, seed {args.seed}); photos at most {SIDE} px; CPU flags: {cpu_flags()}")
    for group, photos in photo_groups(args.photos).items():
        rng = np.random.default_rng(args.seed)
        rows: dict[str, list[tuple[float, ...]]] = {}
        for name, image in photos.items():
            for number, hole in enumerate(boxes(*image.shape[:2], args.holes, rng)):
                results = {}
                for label, fill in fills.items():
                    started = time.perf_counter()
                    out = results[label] = fill(image, hole)
                    seconds = time.perf_counter() - started
                    assert np.array_equal(out[~hole], image[~hole]), f"{label} changed pixels outside the hole"
                    rows.setdefault(label, []).append((*scores(out, image, hole), seconds))
                if args.pictures and number == 0:
                    write_strip(args.pictures / f"inpaint-{name}.jpg", image, hole, results)
        print(f"\n{group}: {', '.join(photos)} ({len(photos) * args.holes} holes)")
        print(f"{'fill':<24} {'PSNR dB':>8} {'SSIM':>7} {'texture':>8} {'seconds':>8}")
        for label, values in rows.items():
            mean = np.array(values).mean(axis=0)
            print(f"{label:<24} {mean[0]:>8.2f} {mean[1]:>7.4f} {mean[2]:>8.3f} {mean[3]:>8.2f}")


if __name__ == "__main__":
    main()
