"""Every restoration operation against its classic baselines, in one report.

Why: a network that loses to a 20-year-old filter is not worth its seconds, and a figure measured
only on the photos a method was tuned on says little. So each operation runs through the chain as
the command line runs it (default parameters, the engines installed here), next to the classic
method a person would otherwise use, on the example photos (``tuned on``) and on photos that ship
inside installed packages and were not looked at while tuning (``held out``; ``bench/photos.py``).

Measured here:
- denoise: Gaussian noise sigma 15/25/50 on centre crops; ours (blind: it estimates the noise) vs
  BM3D given the true sigma and OpenCV's non-local means (h = 0.65 sigma, the best of 0.5-1.0 sigma
  on the tuned-on photos); PSNR (RGB) and SSIM (luma) over the crop.
- deblur: Gaussian blur sigma 2 and a 15 px horizontal motion, then noise sigma 2; ours (blind: it
  estimates the blur) vs Richardson-Lucy and Wiener given the TRUE PSF (an oracle; iterations and
  balance the best of a sweep on the tuned-on photos, reflect-padded like ours), and ours given
  the true PSF too; PSNR/SSIM inside a 16 px border (the edge is guessed by every method).
- enhance x4: crops taken down 4x (area) and brought back by every installed engine, Lanczos and
  bicubic: PSNR/SSIM and the colour shift (the largest |channel mean of the output brought back to
  the input's size - channel mean of the input|, in levels of 255).
- the benches that already measure one operation run as they are, their output under a heading:
  JPEG deblocking and colour kept (``quality_fidelity.py``, on the same crops per group), scratches
  and dust fixed / false repairs (``old_photo.py``), object removal vs Telea/Navier-Stokes in the
  hole (``inpaint.py``), identity distance and sharpness vs Lanczos (``faces.py``; held out:
  scikit-image's astronaut).
Seconds are the median per crop (the first call of an engine loads and compiles it).
``--pictures DIR`` writes one labelled strip per section (degraded | baselines | ours | original)
as ``quality-*.jpg``, from the first held-out photo.
Usage: python bench/quality.py [--quick] [--sections denoise,deblur,...] [--photos NAME,...] [--pictures DIR]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fidelity import luma, psnr, ssim  # bench/ is on the path from here
from photos import GROUPS, Photo, centre, package_file, photos

SECTIONS = ("denoise", "deblur", "enhance", "deblock", "old-photo", "inpaint", "faces")
QUICK_PHOTOS = "portrait,astronaut,lion"
NOISE = (15, 25, 50)
NLM_H = 0.65  # OpenCV NLM filter strength per unit of noise sigma
BLUR_NOISE = 2.0
RL_ITERATIONS = {"gaussian": 50, "motion": 30}  # the best of 5-120 on the tuned-on photos
WIENER_BALANCE = {"gaussian": 0.005, "motion": 0.4}  # the best of 0.003-0.8 on the tuned-on photos
BORDER = 16  # deblur scores leave this much of each edge out
TILE = 200


Image = np.ndarray  # RGB uint8
Method = Callable[[Image], Image]


@dataclass
class Tally:
    """Scores per (condition, method, group); means, and the median of the last column (seconds)."""

    columns: tuple[str, ...]
    rows: dict[tuple[str, str, str], list[tuple[float, ...]]] = field(default_factory=dict)

    def add(self, condition: str, method: str, group: str, *values: float) -> None:
        self.rows.setdefault((condition, method, group), []).append(values)

    def print(self) -> None:
        conditions = list(dict.fromkeys(c for c, _, _ in self.rows))
        methods = list(dict.fromkeys(m for _, m, _ in self.rows))
        cells = " ".join(f"{c:>7}" for c in self.columns)
        print(f"{'method':<30} {'group':<9} " + "  ".join(f"{condition:^{8 * len(self.columns) - 1}}" for condition in conditions))
        print(f"{'':<30} {'':<9} " + "  ".join(cells for _ in conditions))
        for method in methods:
            for group in GROUPS:
                found = [self.rows.get((c, method, group)) for c in conditions]
                if any(found):
                    print(f"{method:<30} {group:<9} " + "  ".join(self.cells(values) for values in found))

    def cells(self, values: list[tuple[float, ...]] | None) -> str:
        if not values:
            return " ".join(f"{'-':>7}" for _ in self.columns)
        table = np.array(values)
        means = [*table[:, :-1].mean(axis=0), float(np.median(table[:, -1]))]
        return " ".join(f"{v:>7.{4 if name == 'SSIM' else 2}f}" for v, name in zip(means, self.columns))


def timed(method: Method, image: Image) -> tuple[Image, float]:
    started = time.perf_counter()
    out = method(image)
    return out, time.perf_counter() - started


def through_chain(operation: str, engine: str = "auto", **params: object) -> Method:
    """The operation as the command line runs it."""
    from ops import chain
    from ops.imageio import Picture

    steps = chain.plan([{"type": operation, "engine": engine, "params": params}])
    return lambda image: chain.run(Picture(image.copy()), steps).picture.pixels


def installed(operation: str) -> list[str]:
    from ops.engines import engines_for
    from ops.registry import get_operation

    return [name for name, reason in engines_for(get_operation(operation)) if reason is None]


def to_uint8(image: np.ndarray, top: float = 1.0) -> Image:
    return np.clip(np.rint(image * (255 / top)), 0, 255).astype(np.uint8)


def fidelity(out: Image, truth: Image, border: int = 0) -> tuple[float, float]:
    inner = (slice(border, -border or None), slice(border, -border or None))
    return psnr(out[inner], truth[inner]), ssim(luma(out[inner]), luma(truth[inner]))


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def noisy(clean: Image, sigma: float, rng: np.random.Generator) -> Image:
    return to_uint8(clean + rng.normal(0, sigma, clean.shape), 255)


def strip(target: Path, rows: list[dict[str, Image]]) -> None:
    """Rows of labelled ``TILE`` px tiles (nearest-neighbour when a picture is smaller), one JPEG."""
    from PIL import Image as PILImage

    def tile(label: str, picture: Image) -> Image:
        grow = picture.shape[0] < TILE
        out = cv2.resize(picture, (TILE, TILE), interpolation=cv2.INTER_NEAREST if grow else cv2.INTER_AREA)
        out = cv2.copyMakeBorder(out, 0, 22, 0, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
        cv2.putText(out, label, (3, TILE + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
        return out

    target.parent.mkdir(parents=True, exist_ok=True)
    picture = np.concatenate([np.concatenate([tile(k, v) for k, v in row.items()], axis=1) for row in rows], axis=0)
    PILImage.fromarray(picture).save(target, quality=88, optimize=True)
    print(f"wrote {target} ({target.stat().st_size // 1024} KB)")


# denoise ------------------------------------------------------------------------------------


def denoisers() -> dict[str, Callable[[Image, float], Image]]:
    """Baselines (given the true sigma) and every installed denoise engine (blind)."""
    methods: dict[str, Callable[[Image, float], Image]] = {
        f"OpenCV NLM (h={NLM_H:g} sigma)": lambda image, sigma: cv2.fastNlMeansDenoisingColored(image, None, NLM_H * sigma, NLM_H * sigma, 7, 21),
    }
    try:
        import bm3d

        methods["BM3D (true sigma)"] = lambda image, sigma: to_uint8(bm3d.bm3d_rgb(image / 255.0, sigma / 255.0))
    except ImportError:
        print("BM3D skipped: the bm3d package is not installed (pip install bm3d)")
    for engine in installed("denoise"):
        run = through_chain("denoise", engine)
        methods[f"{engine} (ours, blind)"] = lambda image, sigma, run=run: run(image)  # type: ignore[misc]
    return methods


def denoise(shots: list[Photo], crop: int, seed: int, pictures: Path | None) -> None:
    print(f"\n## denoise: Gaussian noise sigma {'/'.join(map(str, NOISE))} on {crop} px centre crops; PSNR dB (RGB), SSIM (luma) over the crop")
    from ops.restore.noise import estimate_sigma

    methods = denoisers()
    tally = Tally(("PSNR", "SSIM", "s"))
    estimates: dict[int, list[float]] = {}
    for index, shot in enumerate(shots):
        clean = centre(shot.rgb, crop)
        for sigma in NOISE:
            given = noisy(clean, sigma, rng_for(seed, index, sigma))
            estimates.setdefault(sigma, []).append(estimate_sigma(given))
            tally.add(f"sigma {sigma}", "noisy input", shot.group, *fidelity(given, clean), 0.0)
            outs = {}
            for name, method in methods.items():
                outs[name], seconds = timed(lambda image: method(image, sigma), given)  # noqa: B023  (called at once)
                tally.add(f"sigma {sigma}", name, shot.group, *fidelity(outs[name], clean), seconds)
            if pictures and shot is shown(shots) and sigma == 25:
                strip(pictures / "quality-denoise.jpg", [{f"noise sigma {sigma}": given, **{short(k): v for k, v in outs.items()}, "original": clean}])
    tally.print()
    print("noise the engine measured (true -> mean estimate): " + ", ".join(f"{s} -> {np.mean(e):.1f}" for s, e in estimates.items()))


def shown(shots: list[Photo]) -> Photo:
    """The photo the strips show: the first held-out one."""
    return next((s for s in shots if s.group == "held out"), shots[0])


def short(label: str) -> str:
    return label.split(" (")[0] + (" (ours)" if "ours" in label else "")


# deblur -------------------------------------------------------------------------------------


def blurs() -> dict[str, tuple[str, float, float]]:
    """{condition: (kind, size, angle)} as ops.restore.blur describes a blur."""
    return {"gaussian sigma 2": ("gaussian", 2.0, 0.0), "motion 15 px, 0 deg": ("motion", 15.0, 0.0)}


@contextmanager
def known_blur(kind: str, size: float, angle: float) -> Iterator[None]:
    """The deblur engine told the true blur instead of estimating it (the baselines' oracle)."""
    from ops.engines import deblur
    from ops.restore.blur import Blur

    estimate = deblur.blur.estimate
    deblur.blur.estimate = lambda image: Blur(kind, size, angle)  # type: ignore[assignment]
    try:
        yield
    finally:
        deblur.blur.estimate = estimate  # type: ignore[assignment]


def padded(method: Callable[[np.ndarray], np.ndarray], image: Image, pad: int) -> Image:
    """``method`` per channel on the float image reflect-padded by ``pad`` (FFT and edges), cropped back."""
    wide = np.pad(image / 255.0, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    out = np.stack([method(wide[..., c]) for c in range(3)], axis=-1)
    return to_uint8(out[pad:-pad, pad:-pad])


def deblurrers(kind: str, size: float, angle: float, kernel: np.ndarray) -> dict[str, Method]:
    from skimage.restoration import richardson_lucy, wiener

    pad = 2 * kernel.shape[0]
    methods: dict[str, Method] = {
        "Richardson-Lucy (true PSF)": lambda image: padded(lambda c: richardson_lucy(c, kernel, num_iter=RL_ITERATIONS[kind]), image, pad),
        "Wiener (true PSF)": lambda image: padded(lambda c: np.clip(wiener(c, kernel, WIENER_BALANCE[kind]), 0, 1), image, pad),
    }
    for engine in installed("deblur"):
        run = through_chain("deblur", engine)
        methods[f"{engine} (ours, blind)"] = run
        if engine == "hqs-ffdnet":

            def oracle(image: Image, run: Method = run) -> Image:
                with known_blur(kind, size, angle):
                    return run(image)

            methods[f"{engine} (ours, true PSF)"] = oracle
    return methods


def deblur(shots: list[Photo], crop: int, seed: int, pictures: Path | None) -> None:
    print(f"\n## deblur: blur, then noise sigma {BLUR_NOISE:g}, on {crop} px centre crops (blurred on the whole photo); PSNR/SSIM {BORDER} px inside the edges")
    iterations, balance = (", ".join(f"{k} {v:g}" for k, v in table.items()) for table in (RL_ITERATIONS, WIENER_BALANCE))
    print(f"Richardson-Lucy iterations {iterations}; Wiener balance {balance}")
    from ops.restore.blur import Blur

    tally = Tally(("PSNR", "SSIM", "s"))
    found: dict[tuple[str, str], list[bool]] = {}
    rows: list[dict[str, Image]] = []
    for number, (condition, (kind, size, angle)) in enumerate(blurs().items()):
        kernel = Blur(kind, size, angle).kernel().astype(np.float64)
        methods = deblurrers(kind, size, angle, kernel)
        for index, shot in enumerate(shots):
            blurred = cv2.filter2D(shot.rgb.astype(np.float64), -1, kernel, borderType=cv2.BORDER_REFLECT)
            given = centre(noisy(blurred, BLUR_NOISE, rng_for(seed, index, number)), crop)
            clean = centre(shot.rgb, crop)
            tally.add(condition, "blurred input", shot.group, *fidelity(given, clean, BORDER), 0.0)
            outs = {}
            for name, method in methods.items():
                outs[name], seconds = timed(method, given)
                tally.add(condition, name, shot.group, *fidelity(outs[name], clean, BORDER), seconds)
            found.setdefault((condition, shot.group), []).append(estimated_kind(given) == kind)
            if pictures and shot is shown(shots):
                rows.append({f"{kind} + noise": given, **{short(k): v for k, v in outs.items() if "ours, true PSF" not in k}, "original": clean})
    tally.print()
    print("blur kind the engine found right: " + ", ".join(f"{c} {g} {sum(v)}/{len(v)}" for (c, g), v in found.items()))
    if pictures and rows:
        strip(pictures / "quality-deblur.jpg", rows)


def estimated_kind(image: Image) -> str:
    from ops.restore.blur import estimate

    return estimate(image.astype(np.float32) / 255).kind


# enhance x4 ---------------------------------------------------------------------------------


def colour_shift(out: Image, given: Image) -> float:
    """Largest |channel mean of ``out`` brought to ``given``'s size - that of ``given``|, in levels."""
    from ops.restore.colour import channel_means

    back = cv2.resize(out, given.shape[1::-1], interpolation=cv2.INTER_AREA)
    return float(np.abs(channel_means(back) - channel_means(given)).max())


def enhance(shots: list[Photo], crop: int, pictures: Path | None) -> None:
    print(f"\n## enhance x4: {crop} px centre crops taken down 4x (area), brought back; PSNR/SSIM against the crop; colour shift in levels")
    methods: dict[str, Method] = {
        "bicubic": lambda image: cv2.resize(image, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC),
        "Lanczos": lambda image: cv2.resize(image, None, fx=4, fy=4, interpolation=cv2.INTER_LANCZOS4),
        **{f"{engine} (ours)": through_chain("enhance", engine, scale=4) for engine in installed("enhance")},
    }
    tally = Tally(("PSNR", "SSIM", "shift", "s"))
    for shot in shots:
        truth = centre(shot.rgb, crop // 4 * 4)
        given = cv2.resize(truth, (truth.shape[1] // 4, truth.shape[0] // 4), interpolation=cv2.INTER_AREA)
        outs = {}
        for name, method in methods.items():
            outs[name], seconds = timed(method, given)
            tally.add("x4", name, shot.group, *fidelity(outs[name], truth), colour_shift(outs[name], given), seconds)
        if pictures and shot is shown(shots):
            ours = {short(k): v for k, v in outs.items() if k != "bicubic"}
            strip(pictures / "quality-enhance.jpg", [{f"input {given.shape[1]} px": given, **ours, "original": truth}])
    tally.print()


# the per-operation benches ------------------------------------------------------------------


def bench(script: str, *args: str) -> None:
    """Run ``bench/<script>`` as its own process and print its output (CPU flags said once, above)."""
    print(f"\n## {script} {' '.join(args)}".rstrip(), flush=True)
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        for line in process.stdout or ():
            line = line.rstrip("\n")
            if "CPU flags: " in line:
                line = re.sub(r"^[;\s]+|[;\s]+$", "", re.sub(r"CPU flags: [^;\n]*", "", line))
            if line.strip():
                print(line, flush=True)
        if process.wait():
            errors.seek(0)
            print(f"{script} failed ({process.returncode}):\n" + "".join(errors.readlines()[-20:]))


def deblock(shots: list[Photo], crop: int, pictures: Path | None) -> None:
    """quality_fidelity.py on this run's crops, once per group."""
    from PIL import Image as PILImage

    with tempfile.TemporaryDirectory() as folder:
        for group in GROUPS:
            place = Path(folder) / group.replace(" ", "-")
            place.mkdir()
            for shot in (s for s in shots if s.group == group):
                PILImage.fromarray(centre(shot.rgb, crop)).save(place / f"{shot.name}.png")
            if any(place.iterdir()):
                print(f"\n# {group}")
                bench("quality_fidelity.py", "--photos", str(place), "--crop", str(crop))
    if pictures:
        from quality_fidelity import as_png, through_jpeg

        truth = centre(shown(shots).rgb, crop)
        blocky = through_jpeg(truth, 10)
        out = through_chain("denoise")(as_png(blocky).pixels)
        strip(pictures / "quality-deblock.jpg", [{"JPEG q10, as PNG": blocky, "denoise (ours)": out, "original": truth}])


def old_photo_strip(shot: Photo, crop: int, seed: int, target: Path) -> None:
    """One photo damaged as bench/old_photo.py damages it: damaged | Telea on the true mask | ours | original."""
    from old_photo import damage, grainy, sepia

    rng = rng_for(seed, 0)
    clean = sepia(centre(shot.rgb, crop))
    drawn, cover, _ = damage(clean, rng)
    damaged = grainy(drawn, rng)
    hole = cv2.dilate((cover > 0.05).astype(np.uint8), np.ones((3, 3), np.uint8))
    telea = cv2.inpaint(damaged, hole, 3, cv2.INPAINT_TELEA)
    ours = through_chain("restore-old-photo", face_enhancement_level=0.0)(damaged)
    strip(target, [{"scratches, dust, grain": damaged, "Telea, true mask": telea, "restore-old-photo (ours)": ours, "original (sepia)": clean}])


def faces(quick: bool, pictures: Path | None) -> None:
    """faces.py on examples/portrait.jpg (tuned on) and, unless quick, scikit-image's astronaut (held out)."""
    engines = ("lanczos", "aligned-realesrgan", "faithful-face")
    held_out = None if quick else package_file("skimage", "data", "astronaut.png")
    with tempfile.TemporaryDirectory() as folder:
        bench("faces.py", *([str(held_out)] if held_out else []), "--engines", ",".join(engines), *(["--save", folder] if pictures else []))
        saved = sorted(Path(folder).glob("*.png"), key=lambda p: p.stem != "astronaut")
        if pictures and saved:
            from PIL import Image as PILImage

            tiles = np.split(np.asarray(PILImage.open(saved[0]).convert("RGB")), 2 + len(engines), axis=1)  # original, input, engines
            truth, given, _, *ours = tiles
            strip(pictures / "quality-faces.jpg", [{"128 px JPEG q40, Lanczos": given, **{f"{e} (ours)": o for e, o in zip(engines[1:], ours)}, "original": truth}])


def main() -> None:
    from ops.runtime.backends.verdicts import cpu_flags

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help=f"fewer photos ({QUICK_PHOTOS}), smaller crops, fewer holes")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {','.join(SECTIONS)}")
    parser.add_argument("--photos", help="only these photos (comma-separated names, see bench/photos.py)")
    parser.add_argument("--crop", type=int, help="crop side for denoise and deblur (default 192, quick 128); enhance and deblock take 256 (quick 128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pictures", type=Path, help="write quality-*.jpg strips here")
    args = parser.parse_args()
    sections = args.sections.split(",")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    shots = photos(512, args.photos or (QUICK_PHOTOS if args.quick else None))
    crop = args.crop or (128 if args.quick else 192)
    large = 128 if args.quick else 256
    import torch

    started = time.perf_counter()
    print(f"CPU flags: {cpu_flags()}; {torch.get_num_threads()} threads")
    for group in GROUPS:
        if any(s.group == group for s in shots):
            print(f"{group}: " + ", ".join(f"{s.name} ({s.source})" for s in shots if s.group == group))
    if "denoise" in sections:
        denoise(shots, crop, args.seed, args.pictures)
    if "deblur" in sections:
        deblur(shots, crop, args.seed, args.pictures)
    if "enhance" in sections:
        enhance(shots, large, args.pictures)
    if "deblock" in sections:
        deblock(shots, large, args.pictures)
    if "old-photo" in sections:
        bench("old_photo.py", "--side", "192" if args.quick else "384", "--seed", str(args.seed))
        if args.pictures:
            old_photo_strip(shown(shots), large, args.seed, args.pictures / "quality-old-photo.jpg")
    if "inpaint" in sections:
        bench("inpaint.py", "--holes", "1" if args.quick else "2", "--seed", str(args.seed))
    if "faces" in sections:
        faces(args.quick, args.pictures)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
