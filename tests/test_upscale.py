"""Real-ESRGAN: the ncnn conversion against ncnn itself, seamless tiling, and the enhance engines."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ops import chain
from ops.engines.upscale import plan_passes
from ops.errors import WorkLimitError
from ops.imageio import Picture, decode, encode
from ops.metrics import psnr
from ops.models import MODELS, model
from ops.run_config import RunConfig
from ops.runtime.ncnn_convert import convert
from ops.runtime.tiling import TileConfig, upscale_array
from ops.weights import WeightsSource, entry, require
from tests.conftest import EXAMPLES, SetHost, run_cli, uninstalled

NCNN_MODELS = ["realesrgan-x4plus-ncnn", "realesrgan-x4plus-anime-ncnn", "realesr-animevideov3-ncnn"]


def load(source: WeightsSource):  # noqa: ANN201
    """The network of the model that loads from ``source`` (ops.models), from that very source."""
    return model(next(name for name, spec in MODELS.items() if source in spec.sources), source=source).net


def photo_crop(top: int, left: int, height: int, width: int, name: str = "cat.jpg") -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / name).convert("RGB"))[top : top + height, left : left + width]


def ncnn_files(model: str) -> tuple:
    paths = require(entry(model))  # fails with "run python -m ops weights fetch ..." when missing
    return next(p for p in paths.values() if p.suffix == ".param"), next(p for p in paths.values() if p.suffix == ".bin")


@pytest.mark.parametrize("model", NCNN_MODELS)
def test_conversion_matches_the_ncnn_runtime_within_one_level(model: str) -> None:
    import ncnn

    param, binary = ncnn_files(model)
    crop = photo_crop(120, 200, 40, 48).astype(np.float32) / 255
    x = torch.from_numpy(crop.transpose(2, 0, 1).copy())[None]
    network = load(WeightsSource(model, "ncnn"))
    with torch.inference_mode():
        ours = network.module(x.to(memory_format=torch.channels_last))[0].clamp(0, 1).numpy()
    net = ncnn.Net()
    for option in ("use_vulkan_compute", "use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(net.opt, option, False)
    net.load_param(str(param))
    net.load_model(str(binary))
    extractor = net.create_extractor()
    extractor.input("data", ncnn.Mat(np.ascontiguousarray(x[0].numpy())))
    _, out = extractor.extract("output")
    reference = np.clip(np.array(out), 0, 1)
    assert ours.shape == reference.shape == (3, 160, 192)
    assert np.abs(np.rint(ours * 255) - np.rint(reference * 255)).max() <= 1


def test_converted_state_dict_loads_strictly_into_the_standard_architecture() -> None:
    from spandrel.architectures.ESRGAN import ESRGANArch  # noqa: F401  (spandrel importable thanks to the compat)

    param, binary = ncnn_files("realesrgan-x4plus-ncnn")
    state = convert(param, binary)
    assert len([k for k in state if k.endswith(".weight")]) == 351
    assert state["conv_first.weight"].shape == (64, 3, 3, 3) and state["conv_last.weight"].shape == (3, 64, 3, 3)


def test_tiling_leaves_no_seams_on_a_real_photo() -> None:
    network = load(WeightsSource("realesrgan-x4plus-ncnn", "ncnn"))
    image = photo_crop(60, 100, 96, 200).astype(np.float32) / 255
    whole = upscale_array(network.module, image, 4, torch.device("cpu"), config=TileConfig(tile=0))
    tiles: list[tuple[int, int]] = []
    tiled = upscale_array(network.module, image, 4, torch.device("cpu"), config=TileConfig(tile=128), progress=lambda d, t: tiles.append((d, t)))
    assert tiles[-1][0] == tiles[-1][1] > 1  # really tiled, progress per tile
    difference = np.abs(np.rint(whole * 255) - np.rint(tiled * 255))
    assert difference.mean() <= 1.0 and difference.max() <= 8.0, (difference.mean(), difference.max())


def test_pass_plans() -> None:
    assert [p.input_size for p in plan_passes(100, 50, 4, 4)] == [(100, 50)]
    assert [p.input_size for p in plan_passes(100, 50, 2, 4)] == [(100, 50)]  # then Lanczos to 200x100
    assert [p.input_size for p in plan_passes(100, 50, 8, 4)] == [(100, 50), (200, 100)]
    assert [p.input_size for p in plan_passes(100, 50, 8, 2)] == [(100, 50), (200, 100), (400, 200)]


def enhance(picture: Picture, scale: int, engine: str = "auto", run: RunConfig = RunConfig()):
    steps = chain.plan([{"type": "enhance", "params": {"scale": scale}, "engine": engine}], run=run)
    return chain.run(picture, steps)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_enhance_scales_are_exact(scale: int) -> None:
    result = enhance(Picture(photo_crop(100, 150, 20, 28)), scale, "realesr-animevideov3")
    assert result.picture.pixels.shape == (20 * scale, 28 * scale, 3)
    assert result.steps[0].details["passes"] == (2 if scale == 8 else 1)


def test_enhance_x4_uses_the_real_x4plus_weights_and_says_so() -> None:
    crop = photo_crop(100, 150, 24, 32)
    result = enhance(Picture(crop), 4)
    step = result.steps[0]
    assert step.engine == "realesrgan-x4plus"
    assert step.details["weights"] in ("RealESRGAN_x4plus", "realesrgan-x4plus-ncnn")
    out = result.picture.pixels
    assert out.shape == (96, 128, 3)
    # a real network, not an interpolation: output differs from Lanczos but agrees with it at low frequency
    lanczos = np.asarray(Image.fromarray(crop).resize((128, 96), Image.Resampling.LANCZOS)).astype(float)
    assert np.abs(out - lanczos).mean() > 2
    small = lambda a: np.asarray(Image.fromarray(a.astype(np.uint8)).resize((8, 6), Image.Resampling.BOX)).astype(float)  # noqa: E731
    assert np.abs(small(out) - small(lanczos)).mean() < 12


def test_alpha_16_bit_and_grey_are_kept() -> None:
    rgba = np.dstack([photo_crop(100, 150, 12, 16), np.full((12, 16), 200, np.uint8)])
    rgba[:, :4, 3] = 0
    out = enhance(Picture(rgba), 2, "realesr-animevideov3").picture.pixels
    assert out.shape == (24, 32, 4) and out[:, :6, 3].max() < 30 and out[:, 10:, 3].min() > 180
    deep = (photo_crop(100, 150, 12, 16).astype(np.uint16) * 257 + 123)
    out16 = enhance(Picture(deep), 2, "realesr-animevideov3").picture.pixels
    assert out16.dtype == np.uint16 and np.any(out16 % 257 != 0)
    grey = photo_crop(100, 150, 12, 16)[..., :1]
    assert enhance(Picture(grey), 2, "realesr-animevideov3").picture.pixels.shape == (24, 32, 1)


def test_enhance_anime_is_always_4x() -> None:
    steps = chain.plan([{"type": "enhance-anime"}])
    result = chain.run(Picture(photo_crop(10, 10, 16, 20, "text-page.png")), steps)
    assert result.picture.pixels.shape[:2] == (64, 80)
    assert result.steps[0].engine == "realesrgan-x4plus-anime-6b"


def test_work_limit_refuses_with_a_suggestion() -> None:
    with pytest.raises(WorkLimitError, match="realesr-animevideov3"):
        enhance(Picture(photo_crop(0, 0, 64, 64)), 8, run=RunConfig(max_job_seconds=0.01))
    assert enhance(Picture(photo_crop(0, 0, 16, 16)), 2).picture.width == 32  # the same work under the default limit


def test_cli_enhance_writes_a_4x_image_and_names_the_engine(tmp_path) -> None:
    source = tmp_path / "small.png"
    source.write_bytes(encode(Picture(photo_crop(100, 150, 24, 32)), "png").data)
    result = run_cli("enhance", str(source), "-o", str(tmp_path / "big.png"), "-p", "scale=4", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["output_size"] == [128, 96] and report["steps"][0]["engine"] == "realesrgan-x4plus"
    assert decode((tmp_path / "big.png").read_bytes()).width == 128


def test_weights_listing_shows_installed_registry_weights() -> None:
    result = run_cli("weights")
    assert result.returncode == 0
    line = next(l for l in result.stdout.splitlines() if l.startswith("realesrgan-x4plus-ncnn"))
    assert " yes " in line and "33.5 MB" in line and "BSD-3-Clause" in line


class OutOfMemoryAbove(torch.nn.Module):
    """Nearest-neighbour 2x that "runs out of GPU memory" on tiles larger than a limit."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit, self.sizes = limit, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(max(x.shape[-2:]))
        if max(x.shape[-2:]) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")


def test_out_of_memory_halves_the_tile_and_retries() -> None:
    model = OutOfMemoryAbove(limit=100)
    image = np.random.default_rng(0).random((150, 180, 3), dtype=np.float32)
    out = upscale_array(model, image, 2, torch.device("cpu"), config=TileConfig(tile=0, context=0, overlap=8))
    assert model.sizes[0] == 180 and max(model.sizes[-4:]) <= 100  # whole image failed, then smaller tiles
    assert np.allclose(out, image.repeat(2, axis=0).repeat(2, axis=1), atol=1e-6)


def test_loaded_networks_are_cached_with_a_bound(set_host: SetHost) -> None:
    from ops.runtime.manager import NETWORKS

    set_host(max_loaded_networks=1)
    NETWORKS.unload()
    first = load(WeightsSource("realesr-animevideov3-ncnn", "ncnn"))
    assert load(WeightsSource("realesr-animevideov3-ncnn", "ncnn")) is first
    load(WeightsSource("realesrgan-x4plus-anime-ncnn", "ncnn"))
    assert NETWORKS.loaded() == ["spandrel:realesrgan-x4plus-anime-ncnn"]
    NETWORKS.unload()


def test_the_time_model_counts_the_tiles_the_runtime_runs() -> None:
    from ops.runtime.throughput import Calibration, Speed, tiled_seconds
    from ops.runtime.tiling import TileConfig, upscale_array

    calls: list[int] = []

    def model(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[-1] * x.shape[-2])
        return torch.nn.functional.interpolate(x, scale_factor=2)

    config = TileConfig(tile=48, overlap=8, context=6)
    upscale_array(model, np.random.rand(70, 130, 3).astype(np.float32), 2, torch.device("cpu"), config=config)
    speed = Speed(fixed=0.5, per_pixel=1e-3)
    assert tiled_seconds(speed, [(130, 70)], config) == pytest.approx(len(calls) * 0.5 + sum(calls) * 1e-3)
    calibration = Calibration(speed)
    modelled = calibration.estimate([(130, 70)], config)
    calibration.observe([(130, 70)], config, 4 * modelled)  # jobs ran 4x slower than the probes said
    assert calibration.estimate([(130, 70)], config) == pytest.approx(2 * modelled)


def test_the_faithful_upscaler_beats_lanczos_and_runs_2x_passes() -> None:
    truth = photo_crop(40, 120, 128, 128)
    small = np.asarray(Image.fromarray(truth).resize((32, 32), Image.Resampling.BOX))
    lanczos = np.asarray(Image.fromarray(small).resize((128, 128), Image.Resampling.LANCZOS))
    result = enhance(Picture(small), 4, "waifu2x-photo")
    step = result.steps[0]
    assert step.engine == "waifu2x-photo" and step.details["passes"] == 2 and "noise level 0" in step.details["weights"]
    assert psnr(result.picture.pixels, truth) > psnr(lanczos, truth) + 0.3  # detail recovered, nothing invented
    assert enhance(Picture(small), 8, "waifu2x-photo").steps[0].details["passes"] == 3


def test_the_faithful_upscaler_cleans_a_noisy_input_and_keeps_alpha() -> None:
    noisy = np.clip(photo_crop(40, 120, 48, 48).astype(float) + np.random.default_rng(0).normal(0, 12, (48, 48, 3)), 0, 255).astype(np.uint8)
    rgba = np.dstack([noisy, np.full((48, 48), 200, np.uint8)])
    result = enhance(Picture(rgba), 2, "waifu2x-photo")
    assert "noise level 3" in result.steps[0].details["weights"] and result.steps[0].details["estimated_noise"] >= 6
    assert result.picture.pixels.shape == (96, 96, 4) and np.all(result.picture.pixels[..., 3] == 200)


def test_high_fidelity_names_run_the_most_faithful_offline_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    uninstalled(monkeypatch, "realesr-general-x4v3")
    steps = chain.plan_model("high_fidelity_2x")
    assert steps[0].engine.name == "waifu2x-photo" and "realesr-general-x4v3" in steps[0].notes[0]


def test_a_fallback_is_said_first_in_the_web_report_with_the_command(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from ops.pipeline import process
    from webui.results import report_markdown

    uninstalled(monkeypatch, "realesr-general-x4v3")
    done = process(encode(Picture(photo_crop(100, 150, 16, 16)), "png").data, chain.plan_model("high_fidelity_2x"))
    assert done.result.steps[0].preferred_engine == "realesr-general-x4v3"
    report = report_markdown(done).splitlines()
    assert "came from a fallback" in report[1] and "instead of **realesr-general-x4v3**" in report[1]
    assert any("python -m ops weights fetch realesr-general-x4v3" in line for line in report[2:])
    assert chain.run(Picture(photo_crop(0, 0, 8, 8)), chain.plan([{"type": "enhance", "params": {"scale": 2}, "engine": "waifu2x-photo"}])).steps[0].preferred_engine is None
