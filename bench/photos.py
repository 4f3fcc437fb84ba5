"""The photos the benches score on, from more than one source and never downloaded.

``examples/*.jpg`` are the photos the project was tuned on; the held-out ones ship inside installed
packages (scikit-image's sample data, scikit-learn's two sample photos, Gradio's media assets) and
were not looked at while tuning. A package that is not installed is skipped.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent

HELD_OUT = {  # name: (package, path inside it)
    "astronaut": ("skimage", "data", "astronaut.png"),
    "coffee": ("skimage", "data", "coffee.png"),
    "chelsea": ("skimage", "data", "chelsea.png"),
    "brick": ("skimage", "data", "brick.png"),
    "china": ("sklearn", "datasets", "images", "china.jpg"),
    "flower": ("sklearn", "datasets", "images", "flower.jpg"),
    "lion": ("gradio", "media_assets", "images", "lion.jpg"),
    "tower": ("gradio", "media_assets", "images", "tower.jpg"),
    "groot": ("gradio", "media_assets", "images", "groot.jpeg"),
}
GROUPS = ("tuned on", "held out")


@dataclass(frozen=True)
class Photo:
    name: str
    group: str  # "tuned on" or "held out"
    source: str  # "examples", or the package it ships in
    path: Path
    rgb: np.ndarray  # uint8, no larger than the longest side asked for


def package_file(package: str, *parts: str) -> Path | None:
    """A file inside an installed package, or None when the package or the file is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    return path if path.is_file() else None


def load(path: Path, longest: int | None = None) -> np.ndarray:
    """RGB uint8, shrunk (area averaging) so that its longer side is at most ``longest``."""
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB"))
    factor = longest / max(image.shape[:2]) if longest else 1.0
    if factor < 1:
        image = cv2.resize(image, (round(image.shape[1] * factor), round(image.shape[0] * factor)), interpolation=cv2.INTER_AREA)
    return image


def photos(longest: int | None = 512, only: str | None = None) -> list[Photo]:
    """Tuned-on photos first, then the held-out ones that are installed; ``only`` keeps the
    photos named in it (comma-separated)."""
    found = [Photo(p.stem, "tuned on", "examples", p, np.empty(0)) for p in sorted((ROOT / "examples").glob("*.jpg"))]
    for name, (package, *parts) in HELD_OUT.items():
        path = package_file(package, *parts)
        if path is not None:
            found.append(Photo(name, "held out", package, path, np.empty(0)))
    wanted = set(only.split(",")) if only else None
    return [Photo(p.name, p.group, p.source, p.path, load(p.path, longest)) for p in found if wanted is None or p.name in wanted]


def centre(rgb: np.ndarray, side: int) -> np.ndarray:
    """The centre square of ``side`` px (smaller when the photo is), its corner on the 8 px grid."""
    h, w = rgb.shape[:2]
    side = min(side, h, w)
    y, x = (h - side) // 2 // 8 * 8, (w - side) // 2 // 8 * 8
    return np.ascontiguousarray(rgb[y : y + side, x : x + side])
