"""denoise: the noise estimate, FFDNet offline, and SCUNet / DRUNet through the same loading code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ops import chain
from ops.imageio import Picture
from ops.metrics import block_ratio, psnr
from ops.restore.noise import estimate_sigma
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return np.asarray(Image.open(EXAMPLES / "rocket.jpg").convert("RGB"))[:192, :256].copy()


def noised(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    return np.clip(image + np.random.default_rng(seed).normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [5, 15, 25, 40])
def test_the_noise_estimate_follows_the_noise(clean: np.ndarray, sigma: float) -> None:
    assert estimate_sigma(noised(clean, sigma)) == pytest.approx(sigma, rel=0.25)
    assert estimate_sigma(clean) < 4


def test_denoise_offline_gains_at_least_3_db_at_sigma_25(clean: np.ndarray) -> None:
    noisy = noised(clean, 25)
    result = chain.run(Picture(noisy), chain.plan([{"type": "denoise", "params": {"enhancement_level": 0.5}}]))
    step = result.steps[0]
    assert step.engine in ("ffdnet", "drunet", "scunet")
    assert psnr(result.picture.pixels, clean) > psnr(noisy, clean) + 3
    assert step.details["noise_sigma_estimated"] == pytest.approx(25, rel=0.25)


def test_denoise_keeps_alpha_grey_and_16_bit(clean: np.ndarray) -> None:
    grey16 = (noised(clean, 15)[..., :1].astype(np.uint16) * 257)
    rgba = np.concatenate([noised(clean, 15), np.full((*clean.shape[:2], 1), 7, np.uint8)], axis=2)
    steps = chain.plan([{"type": "denoise", "engine": "ffdnet"}])
    out16 = chain.run(Picture(grey16), steps).picture.pixels
    outa = chain.run(Picture(rgba), steps).picture.pixels
    assert out16.dtype == np.uint16 and out16.shape == grey16.shape
    assert outa.shape == rgba.shape and (outa[..., 3] == 7).all()


def run_engine(engine: str, pixels: np.ndarray, level: float = 0.5) -> tuple[np.ndarray, dict]:
    """The engine's own work (no deblocking or colour fix around it): (pixels as int, details)."""
    from ops.engines import ENGINES
    from ops.engines.base import RunContext
    from ops.operations.restore import DenoiseParams

    ctx = RunContext()
    out = ENGINES[engine].run(Picture(pixels), DenoiseParams(enhancement_level=level), ctx).pixels
    return out.astype(int), ctx.details


def forward(module: torch.nn.Module, pixels: np.ndarray, *extra: object) -> np.ndarray:
    """The module run by hand on the picture as 0-1 RGB, back in 0-255 levels."""
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        out = module(*[torch.cat([x, torch.full_like(x[:, :1], extra[0])], 1)] if extra else [x])
    return np.rint(out[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255)


def test_scunet_and_drunet_with_random_weights(random_weights, clean: np.ndarray) -> None:  # noqa: ANN001
    """A known input gives a known output: the engines give what the networks these weights make give,
    DRUNet with the measured noise level as its fourth channel, SCUNet blended by the level."""
    from ops.runtime.torchvision_compat import install

    install()
    from spandrel.architectures.DRUNet import DRUNet
    from spandrel.architectures.SCUNet import SCUNet

    torch.manual_seed(0)
    scunet, drunet = SCUNet(config=[1, 1, 1, 1, 1, 1, 1], dim=64).eval(), DRUNet(in_nc=4, out_nc=3, nc=[8, 16, 32, 64], nb=2).eval()
    random_weights("scunet-color-real-psnr", scunet.state_dict())
    random_weights("drunet-color", drunet.state_dict())
    noisy = noised(clean[:40, :56], 20)
    for engine in ("scunet", "drunet"):
        result = chain.run(Picture(noisy), chain.plan([{"type": "denoise", "engine": engine}]))
        assert result.steps[0].engine == engine and result.picture.pixels.shape == noisy.shape
    out, details = run_engine("drunet", noisy)
    expected = forward(drunet, noisy, details["noise_sigma_removed"] / 255)
    assert np.abs(out - expected).max() <= 1 and np.abs(out - noisy).mean() > 10  # the network's picture, not the input
    out, _ = run_engine("scunet", noisy)
    expected = forward(scunet, noisy)
    assert np.abs(out - expected).max() <= 1 and np.abs(out - noisy).mean() > 10
    gentle, _ = run_engine("scunet", noisy, level=0.0)  # a blind network: level 0 keeps 30 % of its change
    assert np.abs(gentle - (noisy + 0.3 * (expected - noisy))).max() <= 1


def test_ffdnet_with_random_weights_through_the_same_loader(random_weights, clean: np.ndarray) -> None:  # noqa: ANN001
    from ops.architectures.ffdnet import FFDNet

    torch.manual_seed(0)
    ffdnet = FFDNet(nc=16, nb=4).eval()
    random_weights("ffdnet-color", ffdnet.state_dict())  # the loader reads the width and depth from the weights
    noisy = noised(clean[:40, :56], 20)
    result = chain.run(Picture(noisy), chain.plan([{"type": "denoise", "engine": "ffdnet"}]))
    assert result.steps[0].engine == "ffdnet" and result.picture.pixels.shape == (40, 56, 3)
    out, details = run_engine("ffdnet", noisy)
    x = torch.from_numpy(noisy).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        expected = np.rint(ffdnet(x, details["noise_sigma_removed"] / 255)[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255)
    assert np.abs(out - expected).max() <= 1 and np.abs(out - noisy).mean() > 10
    stronger, more = run_engine("ffdnet", noisy, level=1.0)  # the level reaches the network as its noise map
    assert more["noise_sigma_removed"] > details["noise_sigma_removed"] and np.abs(stronger - out).max() > 0


def jpeg(image: np.ndarray, quality: int) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def test_blockiness_tells_heavy_compression_from_clean_pictures(clean: np.ndarray) -> None:
    import io

    from ops.restore.jpeg import VISIBLE, blockiness

    def score(quality: int) -> float:
        return blockiness(np.asarray(Image.open(io.BytesIO(jpeg(clean, quality))).convert("L")).astype(np.float32))

    assert score(95) < VISIBLE < score(30) < score(10)


def test_a_blocky_jpeg_goes_through_waifu2x_and_says_so(clean: np.ndarray) -> None:
    from ops.imageio import decode

    picture = decode(jpeg(clean, 15))
    result = chain.run(picture, chain.plan([{"type": "denoise"}]))
    step = result.steps[0]
    assert step.details["deblock_weights"] == "waifu2x-photo-jpeg" and any("JPEG blocking" in w for w in step.warnings)
    assert block_ratio(result.picture.pixels) < block_ratio(picture.pixels) - 0.3
    png = chain.run(Picture(picture.pixels.copy()), chain.plan([{"type": "denoise"}]))  # no longer a JPEG file: deblocked all the same
    assert png.steps[0].details["deblock_weights"] == "waifu2x-photo-jpeg"


def test_upconv7_matches_the_ncnn_runtime(clean: np.ndarray) -> None:
    import ncnn

    from ops.architectures.upconv7 import BORDER, UpConv7, state_from_ncnn
    from ops.runtime.ncnn_convert import read
    from ops.weights import entry, require

    paths = require(entry("waifu2x-photo-jpeg"))
    param, weights = paths["waifu2x-photo-upconv7.param"], paths["waifu2x-photo-noise1.bin"]
    model = UpConv7()
    model.load_state_dict(state_from_ncnn(read(param, weights)))
    image = clean[:48, :64].astype(np.float32) / 255
    net = ncnn.Net()
    net.load_param(str(param))
    net.load_model(str(weights))
    extractor = net.create_extractor()
    padded = np.ascontiguousarray(np.pad(image, ((BORDER,) * 2, (BORDER,) * 2, (0, 0)), mode="edge").transpose(2, 0, 1))  # ncnn.Mat borrows it
    extractor.input("Input1", ncnn.Mat(padded))
    theirs = np.array(extractor.extract("Eltwise4")[1])
    with torch.inference_mode():
        ours = model.eval()(torch.from_numpy(image.transpose(2, 0, 1).copy())[None])[0].numpy()
    assert ours.shape == theirs.shape == (3, 96, 128) and np.abs(ours - theirs).max() < 2e-3
