"""CPU backends chosen by measurement: only outputs true to fp32 are used, the verdict is cached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from spandrel.architectures.Compact.__arch.SRVGG import SRVGGNetCompact

from ops.runtime.backends import BACKENDS, Backend, choose
from ops.runtime.backends import selection as choosing
from ops.runtime.backends.base import register


def tiny_upscaler() -> torch.nn.Module:
    torch.manual_seed(0)
    return SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2).eval()


class Blotchy(Backend):
    """Fast and wrong: what int8 did to u2netp, or freezing to RRDB chains."""

    def build(self, module, channels, cache, key):  # noqa: ANN001, ANN201
        def call(x: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return module(x) + 0.2

        return call


@pytest.fixture
def blotchy() -> Backend:
    backend = register(Blotchy("blotchy", "wrong on purpose"))
    yield backend
    BACKENDS.pop("blotchy")


def test_every_backend_is_measured_against_fp32_and_a_wrong_one_is_never_chosen(tmp_path: Path, blotchy: Backend) -> None:
    choice = choose(tiny_upscaler(), 3, tmp_path)
    trials = {t.backend: t for t in choice.trials}
    assert trials["torch-fp32"].verdict == "reference"
    assert trials["blotchy"].psnr is not None and trials["blotchy"].psnr < 50 and trials["blotchy"].verdict == "below 50 dB"
    assert choice.backend != "blotchy"
    assert trials[choice.backend].verdict in ("reference", "passed")
    passed = [t for t in choice.trials if t.verdict in ("reference", "passed")]
    assert trials[choice.backend].seconds == min(t.seconds for t in passed), "the fastest that passes"
    x = torch.rand(1, 3, 24, 24)
    with torch.inference_mode():
        assert choosing.psnr(choice.call(x), tiny_upscaler()(x)) >= 50


def test_the_verdict_is_measured_once_per_machine_and_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = choose(tiny_upscaler(), 3, tmp_path)
    monkeypatch.setattr(choosing, "calibrate", lambda *a, **k: pytest.fail("measured again"))
    again = choose(tiny_upscaler(), 3, tmp_path)
    assert again.backend == first.backend and again.trials == first.trials
    other = tiny_upscaler()
    with torch.no_grad():
        other.body[0].weight.mul_(1.5)  # other weights: a new fingerprint
    monkeypatch.undo()
    choose(other, 3, tmp_path)
    assert len(json.loads((tmp_path / "backends.json").read_text())) == 2


def test_a_backend_can_be_asked_for_by_name(tmp_path: Path) -> None:
    choice = choose(tiny_upscaler(), 3, tmp_path, wanted="torch-bf16")
    assert choice.backend == "torch-bf16" and not (tmp_path / "backends.json").exists()


def test_an_enhance_job_runs_on_the_backend_chosen_here_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from PIL import Image

    from ops import chain
    from ops.imageio import Picture
    from ops.runtime.manager import NETWORKS
    from tests.conftest import EXAMPLES

    picture = Picture(np.asarray(Image.open(EXAMPLES / "cat.jpg").convert("RGB").crop((100, 60, 164, 108))).copy())
    steps = chain.plan([{"type": "enhance", "engine": "realesr-animevideov3", "params": {"scale": 4}}])
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    results = {}
    for backend in ("torch-fp32", "auto"):
        monkeypatch.setenv("STUDIO_BACKEND", backend)
        NETWORKS.unload()
        results[backend] = chain.run(picture, steps)
    NETWORKS.unload()
    chosen = results["auto"].steps[0].details["backend"]
    assert results["torch-fp32"].steps[0].details["backend"] == "torch-fp32"
    assert chosen in BACKENDS and (tmp_path / "compiled" / "backends.json").exists()
    assert chosen in (tmp_path / "compiled" / "backends.json").read_text()
    ours, reference = (torch.from_numpy(np.asarray(r.picture.pixels, np.float32) / 255) for r in (results["auto"], results["torch-fp32"]))
    assert choosing.psnr(ours, reference) >= 45
