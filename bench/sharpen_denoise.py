"""Does the model name sharpen_denoise (denoise, then deblur) ring, and does its deblur still pay?

Each photo (a centre crop) is degraded as a user of this model would send it: Gaussian noise of
sigma 15 and 25 on the sharp photo, a Gaussian blur of sigma 1.5 plus noise of sigma 10, and the
clean photo itself. Each is run through the model name's chain exactly as the CLI plans it, and
through its denoise step alone (the baseline the deblur must beat, or at least not spoil).

Columns: PSNR against the clean photo; ringing, around strong edges (Canny on the clean photo's
luminance, a band of ``BAND`` px each side, the edge pixels themselves left out): the % of band
pixels where some channel lies more than ``LEVELS`` outside the clean photo's own 5x5 min/max
(an overshoot or halo a person sees), and the mean excess over the band in levels; then the
deblur step's details (the median estimated blur and prior noise, and what the engine did).
Photos: examples/*.jpg (tuned on) and photos that ship inside installed packages (held out).
Usage: python bench/sharpen_denoise.py [--side 320] [--seed 0] [--only NAME] [--per-photo]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from statistics import median

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ops.metrics import psnr  # the project root is on the path from here

LEVELS = 8  # overshoot past the clean neighbourhood's range that counts as ringing (0-255 units)
BAND = 3  # px each side of a strong edge where halos show


def photos(side: int) -> Iterator[tuple[str, bool, np.ndarray]]:
    """(name, tuned on, centre crop of ``side`` px as RGB uint8) of the benches' shared photos."""
    from photos import centre
    from photos import photos as shared

    for photo in shared(None):
        yield photo.name, photo.group == "tuned on", centre(photo.rgb, side)


def degradations(rng: np.random.Generator) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    def noisy(image: np.ndarray, sigma: float) -> np.ndarray:
        return np.clip(np.rint(image + rng.normal(0, sigma, image.shape)), 0, 255).astype(np.uint8)

    return {
        "noise 15": lambda x: noisy(x.astype(np.float64), 15),
        "noise 25": lambda x: noisy(x.astype(np.float64), 25),
        "blur 1.5 + noise 10": lambda x: noisy(cv2.GaussianBlur(x.astype(np.float64), (0, 0), 1.5), 10),
        "clean": lambda x: x.copy(),
    }


def edge_band(clean: np.ndarray) -> np.ndarray:
    """Pixels within ``BAND`` px of a strong edge of the clean photo, but not on it."""
    grey = cv2.cvtColor(clean, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, 100, 200)
    band = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * BAND + 1, 2 * BAND + 1))) > 0
    return band & ~(edges > 0)


def ringing(out: np.ndarray, clean: np.ndarray, band: np.ndarray) -> tuple[float, float]:
    """(% of band pixels more than ``LEVELS`` outside the clean 5x5 range in some channel, mean excess in levels)."""
    box = np.ones((5, 5), np.uint8)
    low, high = cv2.erode(clean, box).astype(np.int16), cv2.dilate(clean, box).astype(np.int16)
    value = out.astype(np.int16)
    excess = np.maximum(np.maximum(value - high, low - value), 0).max(axis=2)[band]
    return 100 * float((excess > LEVELS).mean()), float(excess.mean())


def deblur_facts(steps: list) -> dict:
    return next((s.details for s in steps if s.operation == "deblur"), {})


def main() -> None:
    from ops import chain
    from ops.imageio import Picture
    from ops.registry import get_model
    from ops.runtime.backends.verdicts import cpu_flags

    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=320, help="side of the centre crop of each photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="run only this photo")
    parser.add_argument("--per-photo", action="store_true", help="also print one line per photo and degradation")
    args = parser.parse_args()
    model = chain.plan(list(get_model("sharpen_denoise").steps))  # as the CLI plans a model name
    denoise_only = chain.plan([get_model("sharpen_denoise").steps[0]])
    print(f"sharpen_denoise runs {' → '.join(s.engine.name for s in model)}; CPU flags: {cpu_flags()}")
    rng = np.random.default_rng(args.seed)
    cases = degradations(rng)
    rows: dict[tuple[str, str, str], list[tuple[float, float, float, float]]] = {}
    facts: dict[tuple[str, str], list[dict]] = {}
    for name, tuned, clean in photos(args.side):
        if args.only and name != args.only:
            continue
        group = "tuned on" if tuned else "held out"
        band = edge_band(clean)
        for case, degrade in cases.items():
            source = degrade(clean)
            for method, planned in (("input", None), ("denoise", denoise_only), ("sharpen_denoise", model)):
                started = time.perf_counter()
                if planned is None:
                    out = source
                else:
                    result = chain.run(Picture(source), planned)
                    out = result.picture.pixels
                    if method == "sharpen_denoise":
                        facts.setdefault((group, case), []).append(deblur_facts(result.steps))
                seconds = time.perf_counter() - started
                ring_pct, excess = ringing(out, clean, band)
                rows.setdefault((group, case, method), []).append((psnr(out, clean), ring_pct, excess, seconds))
                if args.per_photo:
                    print(f"  {name:<10} {case:<20} {method:<16} {psnr(out, clean):6.2f} dB  ring {ring_pct:5.2f}%  excess {excess:5.2f}")
    print(f"\n{'group':<9} {'degradation':<20} {'method':<16} {'PSNR':>6} {'ring %':>7} {'excess':>7} {'s':>5}  deblur details (medians)")
    for (group, case, method), values in rows.items():
        mean = np.mean(values, axis=0)
        extra = summary(facts.get((group, case), [])) if method == "sharpen_denoise" else ""
        print(f"{group:<9} {case:<20} {method:<16} {mean[0]:6.2f} {mean[1]:7.2f} {mean[2]:7.2f} {mean[3]:5.1f}  {extra}")


def summary(facts: list[dict]) -> str:
    """The deblur step's estimates over a group's photos: the median Gaussian blur, motions, the median prior
    noise, how many were deconvolved and the median share of values the halo clamp moved."""
    if not facts:
        return ""
    sizes = [float(f["blur"].split()[-2]) for f in facts if f.get("blur", "").startswith("gaussian")]
    parts = [f"blur sigma {median(sizes):.2f}" if sizes else ""]
    parts.append(f"{sum(f.get('blur', '').startswith('motion') for f in facts)} motion")
    parts.append(f"prior noise {median(f['prior_noise'] for f in facts):.1f}")
    if any("deconvolved" in f for f in facts):
        parts.append(f"deconvolved {sum(bool(f.get('deconvolved')) for f in facts)}/{len(facts)}")
    clamped = [f["halo_clamped_pct"] for f in facts if "halo_clamped_pct" in f]
    parts.append(f"clamped {median(clamped):.2f}%" if clamped else "")
    return ", ".join(p for p in parts if p)


if __name__ == "__main__":
    main()
