"""The command line, end to end in a subprocess, as a user runs it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ops.registry import MODELS, OPERATIONS
from ops.schema import fields_of
from tests.conftest import EXAMPLES, run_cli
from tests.corpus import BAD, ODD, png_bytes

PHOTO = EXAMPLES / "cup.jpg"


def test_list_shows_every_operation_parameter_and_model() -> None:
    result = run_cli("list")
    assert result.returncode == 0
    for name, op in OPERATIONS.items():
        assert f"  {name}  — " in result.stdout
        for field in fields_of(op.params):
            assert field.name in result.stdout
    for name in MODELS:
        assert f"  {name}  — " in result.stdout
    assert "2/4/8" in result.stdout and "float 0.5–1.5" in result.stdout and "1:1/4:3/16:9/9:16/3:2/2:3" in result.stdout


def test_compress_optimize_makes_the_photo_smaller(tmp_path: Path) -> None:
    out = tmp_path / "out.jpg"
    result = run_cli("compress-optimize", str(PHOTO), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size < PHOTO.stat().st_size * 0.9
    with Image.open(out) as image:
        assert image.format == "JPEG" and image.info.get("progressive") and image.size == Image.open(PHOTO).size
    assert "pillow-jpeg" in result.stdout


def test_compress_optimize_flattens_alpha_and_says_so(tmp_path: Path) -> None:
    source = tmp_path / "alpha.png"
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 3] = 0
    source.write_bytes(png_bytes(Image.fromarray(rgba, "RGBA")))
    result = run_cli("compress-optimize", str(source), "-o", str(tmp_path / "flat.jpg"), "--json")
    report = json.loads(result.stdout)
    assert any("flattened onto white" in w for w in report["steps"][0]["warnings"])
    assert np.asarray(Image.open(tmp_path / "flat.jpg")).min() >= 250  # white, not black


@pytest.mark.parametrize(
    ("params", "size"),
    [
        (["resize.width=200", "resize.height=120", "resize.maintain_aspect=false"], (200, 120)),
        (["resize.width=300"], (300, 200)),
        (["resize.height=100"], (150, 100)),
        (["resize.width=300", "resize.height=300"], (300, 200)),
        (["crop.pixels=[10,20,300,100]"], (300, 100)),
        (["crop.percentage=[0,0,50,25]"], (300, 100)),
        (['crop={"pixels":[0,0,400,400]}', "resize.width=100"], (100, 100)),
    ],
)
def test_crop_resize_gives_exact_sizes(tmp_path: Path, params: list[str], size: tuple[int, int]) -> None:
    out = tmp_path / "out.png"
    args = [item for p in params for item in ("--param", p)]
    result = run_cli("crop-resize", str(PHOTO), "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == size


@pytest.mark.parametrize("fmt", ["webp", "png"])
def test_convert_keeps_alpha(tmp_path: Path, fmt: str) -> None:
    source = tmp_path / "logo.png"
    rgba = np.zeros((30, 30, 4), np.uint8)
    rgba[5:25, 5:25] = (10, 120, 240, 255)
    source.write_bytes(png_bytes(Image.fromarray(rgba, "RGBA")))
    out = tmp_path / f"converted.{fmt}"
    result = run_cli("convert", str(source), "-o", str(out), "-p", f"output_format={fmt}", "-p", "quality=100")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.format == fmt.upper() and image.mode == "RGBA"
        assert np.array_equal(np.asarray(image), rgba)


def test_convert_to_jpg_from_a_folder_and_glob(tmp_path: Path) -> None:
    result = run_cli("convert", str(EXAMPLES), str(EXAMPLES / "*.jpg"), "-o", str(tmp_path), "-p", "output_format=jpg")
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.with_suffix(".jpg").name for p in EXAMPLES.iterdir() if p.suffix in (".jpg", ".png"))


def test_model_names_and_chains_run_from_the_cli(tmp_path: Path) -> None:
    steps = json.dumps([
        {"type": "crop-resize", "params": {"crop": {"percentage": [25, 25, 50, 50]}}},
        {"type": "convert", "params": {"output_format": "webp", "quality": 80}},
    ])
    result = run_cli("chain", str(PHOTO), "-o", str(tmp_path / "x.webp"), "--steps", steps, "--json")
    report = json.loads(result.stdout)
    assert [s["engine"] for s in report["steps"]] == ["pillow-resample", "pillow-codecs"]
    assert report["output_size"] == [300, 200] and report["format"] == "webp"
    tiny = tmp_path / "tiny.png"
    tiny.write_bytes(png_bytes(Image.open(PHOTO).crop((200, 100, 224, 116))))
    general = run_cli("general_2x", str(tiny), "-o", str(tmp_path / "big.png"), "--json")
    assert general.returncode == 0, general.stderr
    assert json.loads(general.stdout)["steps"][0]["engine"] == "realesrgan-x4plus"
    assert Image.open(tmp_path / "big.png").size == (48, 32)
    from ops.weights import entry, installed

    if not installed(entry("RealESRGAN_x2plus")):  # an engine whose weights are missing: exit 2, naming the fix
        missing = run_cli("enhance", str(tiny), "-o", str(tmp_path / "x2.png"), "-p", "scale=2", "--engine", "realesrgan-x2plus")
        assert missing.returncode == 2 and "python -m ops weights fetch RealESRGAN_x2plus" in missing.stderr


def test_bad_parameters_are_reported_before_any_file(tmp_path: Path) -> None:
    result = run_cli("convert", str(PHOTO), "-o", str(tmp_path / "a.png"), "-p", "output_format=gif", "-p", "quality=0")
    assert result.returncode == 2
    assert "output_format" in result.stderr and "quality" in result.stderr and "Traceback" not in result.stderr


def test_output_format_conflicts_and_unknown_suffixes_are_errors(tmp_path: Path) -> None:
    conflict = run_cli("convert", str(PHOTO), "-o", str(tmp_path / "a.png"), "-p", "output_format=webp")
    assert conflict.returncode == 1 and "produces WEBP" in conflict.stdout
    unknown = run_cli("convert", str(PHOTO), "-o", str(tmp_path / "a.tiff"), "-p", "output_format=png")
    assert unknown.returncode == 2 and "cannot write '.tiff'" in unknown.stderr


def test_never_overwrites_its_input(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(PHOTO.read_bytes())
    result = run_cli("compress-optimize", str(source), "-o", str(source))
    assert result.returncode == 1 and "overwrite the input" in result.stdout
    assert source.read_bytes() == PHOTO.read_bytes()


def test_the_bad_corpus_fails_cleanly_file_by_file(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    for case in BAD:
        (folder / case.name).write_bytes(case.make())
        result = run_cli("compress-optimize", str(folder / case.name), "-o", str(tmp_path / "out.jpg"))
        assert result.returncode == 1, case.name
        assert case.says in result.stdout, (case.name, result.stdout)
        assert "Traceback" not in result.stdout + result.stderr
    # all at once: every file reported, the batch exits non-zero, a good file still succeeds
    (folder / "good.jpg").write_bytes(PHOTO.read_bytes())
    batch = run_cli("compress-optimize", str(folder), str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "out"), "--json")
    reports = [json.loads(line) for line in batch.stdout.splitlines()]
    assert batch.returncode == 1
    assert sum(r["ok"] for r in reports) == 1 and len(reports) == len(BAD) + 2
    assert not (tmp_path / "out" / "truncated.jpg").exists()


def test_odd_files_are_handled_with_their_stated_outcome(tmp_path: Path) -> None:
    for case in ODD:
        source = tmp_path / case.name
        source.write_bytes(case.make())
        out = tmp_path / "out" / f"{source.stem}.png"
        result = run_cli("crop-resize", str(source), "-o", str(out), "-p", "resize.width=1", "--json")
        assert result.returncode == 0, (case.name, result.stdout, result.stderr)
        report = json.loads(result.stdout)
        assert case.says in " ".join(report["warnings"]), case.name
        assert Image.open(io.BytesIO(out.read_bytes())).size[0] == 1


def test_exif_and_dpi_options(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "StudioCam"  # Make
    source = tmp_path / "shot.jpg"
    Image.open(PHOTO).save(source, "JPEG", exif=exif.tobytes(), dpi=(72, 72))
    plain, kept, dotted = tmp_path / "plain.jpg", tmp_path / "kept.jpg", tmp_path / "dpi.png"
    assert run_cli("crop-resize", str(source), "-o", str(plain), "-p", "resize.width=64").returncode == 0
    assert run_cli("crop-resize", str(source), "-o", str(kept), "-p", "resize.width=64", "--exif").returncode == 0
    assert run_cli("crop-resize", str(source), "-o", str(dotted), "-p", "resize.width=64", "--dpi", "300").returncode == 0
    assert 0x010F not in Image.open(plain).getexif()  # dropped unless asked: it can hold a location
    assert Image.open(kept).getexif().get(0x010F) == "StudioCam"
    assert Image.open(plain).info["dpi"] == pytest.approx((72, 72)) and Image.open(dotted).info["dpi"] == pytest.approx((300, 300), abs=0.01)
    refused = run_cli("crop-resize", str(source), "-o", str(tmp_path / "x.png"), "--dpi", "many")
    assert refused.returncode == 2 and "--dpi" in refused.stderr


def test_speed_int8_asks_for_the_int8_mode(tmp_path: Path) -> None:
    """``--speed int8`` reaches the step: the int8 backend is measured (its own verdict, kept apart) and
    the result says what ran; without it int8 is never tried."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    tiny = tmp_path / "tiny.png"
    Image.open(PHOTO).crop((200, 100, 232, 124)).save(tiny)

    def enhance(data: Path, *speed: str) -> dict:
        env = {**os.environ, "STUDIO_DATA_DIR": str(data), "STUDIO_BACKEND": "auto"}
        done = subprocess.run([sys.executable, "-m", "ops", "enhance", str(tiny), "-o", str(data / "out.png"), "-p", "scale=2",
                               "--engine", "realesr-animevideov3", "--json", *speed], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
        # NNCF's calibration progress bars are printed on stdout too (ops/runtime/backends): the report is the JSON line
        return json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))

    def trials(data: Path) -> list[dict]:
        return [t for verdict in json.loads((data / "compiled" / "backends.json").read_text()).values() for t in verdict["trials"]]

    asked = enhance(tmp_path / "int8", "--speed", "int8")
    step = asked["steps"][0]
    int8 = [t for t in trials(tmp_path / "int8") if t["backend"] == "openvino-int8"]
    assert any(t["quality"] is not None for t in int8), "int8 was measured"
    ran_int8 = step["details"]["backend"] == "openvino-int8"
    assert ran_int8 or any("int8 speed mode asked for but not used" in w for w in step["warnings"])
    plain = enhance(tmp_path / "exact")
    assert plain["steps"][0]["details"]["backend"] != "openvino-int8"
    assert all(t["verdict"] == "opt-in only" for t in trials(tmp_path / "exact") if t["backend"] == "openvino-int8")
