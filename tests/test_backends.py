"""CPU backends chosen by measurement: only outputs true to fp32 are used, the verdict is cached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from spandrel.architectures.Compact.__arch.SRVGG import SRVGGNetCompact

from ops.runtime.backends import selection as choosing
from ops.runtime.backends.base import BACKENDS, IMAGE, Backend, Compiled, register
from ops.runtime.backends.selection import choose
from tests.conftest import SetHost


def tiny_upscaler() -> torch.nn.Module:
    torch.manual_seed(0)
    return SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2).eval()


class Blotchy(Backend):
    """Fast and wrong: what int8 did to u2netp, or freezing to RRDB chains."""

    def build(self, module, signature, cache, key):  # noqa: ANN001, ANN201
        def call(x: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return module(x) + 0.2

        return Compiled(call)


@pytest.fixture
def blotchy() -> Backend:
    backend = register(Blotchy("blotchy", "wrong on purpose"))
    yield backend
    BACKENDS.pop("blotchy")


def test_every_backend_is_measured_against_fp32_and_a_wrong_one_is_never_chosen(tmp_path: Path, blotchy: Backend) -> None:
    choice = choose(tiny_upscaler(), IMAGE, tmp_path)
    trials = {t.backend: t for t in choice.trials}
    assert trials["torch-fp32"].verdict == "reference"
    assert trials["blotchy"].quality is not None and trials["blotchy"].quality < 50 and trials["blotchy"].verdict == "below 50 dB"
    assert choice.backend != "blotchy"
    assert trials[choice.backend].verdict in ("reference", "passed")
    passed = [t for t in choice.trials if t.verdict in ("reference", "passed")]
    assert trials[choice.backend].seconds == min(t.seconds for t in passed), "the fastest that passes"
    x = torch.rand(1, 3, 24, 24)
    with torch.inference_mode():
        assert choosing.psnr(choice.call(x), tiny_upscaler()(x)) >= 50


def test_the_verdict_is_measured_once_per_machine_and_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = choose(tiny_upscaler(), IMAGE, tmp_path)
    monkeypatch.setattr(choosing, "calibrate", lambda *a, **k: pytest.fail("measured again"))
    again = choose(tiny_upscaler(), IMAGE, tmp_path)
    assert again.backend == first.backend and again.trials == first.trials
    other = tiny_upscaler()
    with torch.no_grad():
        other.body[0].weight.mul_(1.5)  # other weights: a new fingerprint
    monkeypatch.undo()
    choose(other, IMAGE, tmp_path)
    assert len(json.loads((tmp_path / "backends.json").read_text())) == 2


def test_a_backend_can_be_asked_for_by_name(tmp_path: Path) -> None:
    choice = choose(tiny_upscaler(), IMAGE, tmp_path, wanted="torch-bf16")
    assert choice.backend == "torch-bf16" and not (tmp_path / "backends.json").exists()


def test_an_enhance_job_runs_on_the_backend_chosen_here_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    from PIL import Image

    from ops import chain
    from ops.imageio import Picture
    from ops.runtime.manager import NETWORKS
    from tests.conftest import EXAMPLES

    picture = Picture(np.asarray(Image.open(EXAMPLES / "cat.jpg").convert("RGB").crop((100, 60, 164, 108))).copy())
    steps = chain.plan([{"type": "enhance", "engine": "realesr-animevideov3", "params": {"scale": 4}}])
    set_host(data_dir=tmp_path)
    results = {}
    for backend in ("torch-fp32", "auto"):
        set_host(backend=backend)
        NETWORKS.unload()
        results[backend] = chain.run(picture, steps)
    NETWORKS.unload()
    chosen = results["auto"].steps[0].details["backend"]
    assert results["torch-fp32"].steps[0].details["backend"] == "torch-fp32"
    assert chosen in BACKENDS and (tmp_path / "compiled" / "backends.json").exists()
    assert chosen in (tmp_path / "compiled" / "backends.json").read_text()
    ours, reference = (torch.from_numpy(np.asarray(r.picture.pixels, np.float32) / 255) for r in (results["auto"], results["torch-fp32"]))
    assert choosing.psnr(ours, reference) >= 45


def test_each_shape_is_compiled_once_and_kept_on_disk(tmp_path: Path) -> None:
    call = BACKENDS["openvino-f32"].build(tiny_upscaler(), IMAGE, tmp_path, "tiny")
    shaped = call.run
    x = torch.rand(1, 3, 37, 45)
    with torch.inference_mode():
        reference = tiny_upscaler()(x)
    assert choosing.psnr(call(x), reference) >= 50
    first = shaped.static[(37, 45)]
    call(x)
    assert shaped.static[(37, 45)] is first, "compiled once"
    call.prepare([(70, 70)])  # at start-up
    assert (70, 70) in shaped.static
    assert any((tmp_path / "openvino-kernels").iterdir()), "compiled kernels cached for the next process"
    later = BACKENDS["openvino-f32"].build(tiny_upscaler(), IMAGE, tmp_path, "tiny")  # as the next process finds it
    later.run.seconds.update(compile=1.5, reload=0.25)
    assert later.compile_cost([(37, 45), (70, 70)]) == 0.5, "both reload from the disk cache"
    assert later.compile_cost([(37, 45), (80, 64)]) == 1.75, "a shape never met here is compiled"
    later.prepare([(37, 45)])
    assert later.compile_cost([(37, 45)]) == 0 and later.run.seconds["reload"] != 0.25, "held in memory; the reload was timed"


def test_tiles_for_static_shapes_come_in_few_shapes_at_little_extra_cost() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from ops.runtime.tiling import TileConfig, plan_axis, plan_tiles

    config = TileConfig(overlap=32, context=16)

    @settings(max_examples=300, deadline=None)
    @given(st.integers(1, 4000), st.sampled_from([64, 128, 384]), st.sampled_from([1, 16]))
    def check(length: int, tile: int, step: int) -> None:
        plan = plan_axis(length, tile, config, step)
        starts, size = plan.starts, plan.size
        exact_starts, exact_size = plan_tiles(length, tile, 32)
        assert len(starts) == len(exact_starts) and starts[0] == 0 and starts[-1] + size == length, "covered, no more tiles"
        assert all(b - a < size for a, b in zip(starts, starts[1:])), "neighbours overlap"
        assert size - exact_size < step and size <= length
        assert len(set(plan.window_sides)) <= 3, "edge, inner, or the whole length"
        for start, (lo, hi) in zip(starts, plan.windows):
            assert 0 <= lo <= start and start + size <= hi <= length, "each tile inside its window, nothing padded"
            full_context = (start == 0 or start >= 16) and (start + size == length or start + size + 16 <= length)
            if step > 1 and len(starts) > 1 and full_context:
                assert (hi - lo) % step == 0

    check()


def test_tiled_upscaling_on_a_static_shape_backend_matches_fp32(tmp_path: Path) -> None:

    from ops.runtime.tiling import TileConfig, upscale_array

    call = BACKENDS["openvino-f32"].build(tiny_upscaler(), IMAGE, tmp_path, "tiny")
    reference = BACKENDS["torch-fp32"].build(tiny_upscaler(), IMAGE, tmp_path, "tiny")
    image = np.random.default_rng(0).random((90, 150, 3), dtype=np.float32)
    config = TileConfig(tile=48, overlap=8, context=8)
    ours = upscale_array(call, image, 2, torch.device("cpu"), config=config)
    plain = upscale_array(reference, image, 2, torch.device("cpu"), config=config)
    assert ours.shape == plain.shape == (180, 300, 3)
    assert choosing.psnr(torch.from_numpy(ours), torch.from_numpy(plain)) >= 45  # windows differ at the edges, both seamless


@pytest.mark.parametrize("bar", [0.0, 1000.0], ids=["int8-passes", "int8-below-the-bar"])
def test_int8_is_measured_only_when_asked_for_and_held_to_its_own_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bar: float) -> None:
    monkeypatch.setattr(choosing, "OPT_IN_MIN_PSNR", bar)  # the test decides which side of its bar int8 lands on
    default = {t.backend: t for t in choose(tiny_upscaler(), IMAGE, tmp_path).trials}
    assert default["openvino-int8"].verdict == "opt-in only"
    asked = choose(tiny_upscaler(), IMAGE, tmp_path, opt_in=True)
    trial = {t.backend: t for t in asked.trials}["openvino-int8"]
    assert trial.quality is not None and 20 < trial.quality < 99  # measured against fp32: close, not identical
    assert trial.verdict == ("passed" if bar == 0 else "below 1000 dB")
    assert (asked.backend == "openvino-int8") <= (bar == 0), "a backend below its bar is never chosen"
    assert (tmp_path / f"{choosing.weights_digest(tiny_upscaler())}-int8.xml").exists()
    assert len(json.loads((tmp_path / "backends.json").read_text())) == 2, "the opt-in verdict is kept apart"


@pytest.mark.parametrize("int8_wins", [True, False], ids=["int8-runs", "int8-refused"])
def test_a_job_step_can_opt_into_int8_and_the_result_says_what_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, int8_wins: bool, set_host: SetHost) -> None:
    from PIL import Image

    from ops import chain
    from ops.imageio import Picture
    from ops.runtime.manager import NETWORKS
    from tests.conftest import EXAMPLES

    set_host(data_dir=tmp_path, backend="auto")
    # the test decides the outcome: int8 clears its bar and times fastest, or falls below an impossible bar
    monkeypatch.setattr(choosing, "OPT_IN_MIN_PSNR", 0.0 if int8_wins else 1000.0)
    int8_class = type(BACKENDS["openvino-int8"])
    built, real_build, real_best_time = [], int8_class.build, choosing.best_time

    def build(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        call = real_build(self, *args, **kwargs)
        built.append(call)
        return call

    def best_time(call, x):  # noqa: ANN001, ANN202
        seconds, out = real_best_time(call, x)
        return (1e-6 if any(call is b for b in built) else seconds), out

    monkeypatch.setattr(int8_class, "build", build)
    monkeypatch.setattr(choosing, "best_time", best_time)
    picture = Picture(np.asarray(Image.open(EXAMPLES / "cat.jpg").convert("RGB").crop((100, 60, 164, 124))).copy())
    steps = chain.plan([{"type": "enhance", "engine": "realesr-animevideov3", "params": {"scale": 2}, "speed": "int8"}])
    assert steps[0].int8
    NETWORKS.unload()
    try:
        step = chain.run(picture, steps).steps[0]
    finally:
        NETWORKS.unload()
    verdicts = json.loads((tmp_path / "compiled" / "backends.json").read_text())
    int8_trial = next(t for t in next(iter(verdicts.values()))["trials"] if t["backend"] == "openvino-int8")
    assert int8_trial["quality"] is not None, "int8 was measured"
    if int8_wins:
        assert step.details["backend"] == "openvino-int8" and int8_trial["verdict"] == "passed"
        assert not any("int8 speed mode asked for but not used" in w for w in step.warnings), step.warnings
    else:
        assert step.details["backend"] != "openvino-int8" and int8_trial["verdict"] == "below 1000 dB"
        assert any("int8 speed mode asked for but not used (openvino-int8: below 1000 dB" in w for w in step.warnings), step.warnings
    exact = chain.plan([{"type": "enhance", "params": {"scale": 2}, "speed": "exact"}])
    assert not exact[0].int8


def test_a_segmenter_runs_on_the_fastest_runtime_whose_masks_match_onnxruntime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    from PIL import Image

    from ops.models.loaders.sessions import rembg_session
    from ops.runtime.backends import onnx_sessions
    from ops.weights import entry, require
    from tests.conftest import EXAMPLES

    path = next(iter(require(entry("u2netp")).values()))
    set_host(data_dir=tmp_path, segmenter_backend="auto")
    session = rembg_session("u2netp", path)
    verdict = json.loads((tmp_path / "compiled" / "backends.json").read_text())
    trials = {t["backend"]: t for t in next(iter(verdict.values()))["trials"]}
    assert set(trials) == set(onnx_sessions.CANDIDATES) and trials["onnxruntime"]["verdict"] == "reference"
    assert session.backend in trials and trials[session.backend]["verdict"] in ("reference", "passed")
    passed = [t for t in trials.values() if t["verdict"] in ("reference", "passed")]
    assert trials[session.backend]["seconds"] == min(t["seconds"] for t in passed)
    for t in trials.values():
        if t["quality"] is not None:  # mask IoU to onnxruntime
            assert (t["verdict"] == "passed") == (t["quality"] >= 0.99)
    set_host(segmenter_backend="onnxruntime")
    plain = rembg_session("u2netp", path)
    photo = Image.open(EXAMPLES / "cup.jpg").convert("RGB")
    ours, theirs = (np.asarray(s.predict(photo)[0]) >= 128 for s in (session, plain))
    assert onnx_sessions.iou(ours, theirs) >= 0.99
    set_host(segmenter_backend="auto")
    monkeypatch.setattr(onnx_sessions, "_calibrate", lambda *a, **k: pytest.fail("measured again"))
    assert rembg_session("u2netp", path).backend == session.backend, "the verdict is read back"


def test_a_command_line_batch_compiles_every_tile_shape_before_its_first_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files of different sizes (one turned upright by its EXIF orientation): none pays a compile."""
    from PIL import Image

    from ops.cli import main
    from ops.engines.upscale import SuperResolution
    from ops.runtime.backends.openvino_cpu import ShapedModel
    from ops.runtime.manager import NETWORKS

    monkeypatch.setenv("STUDIO_BACKEND", "openvino-f32")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    running, compiled_while_running, compiled = [False], [], []
    compile_shape, run = ShapedModel.compiled, SuperResolution.run

    def spy_compile(self: ShapedModel, shape: tuple[int, int]):  # noqa: ANN202
        if shape not in self.static:
            (compiled_while_running if running[0] else compiled).append(shape)
        return compile_shape(self, shape)

    def spy_run(self: SuperResolution, *args: object):  # noqa: ANN202
        running[0] = True
        try:
            return run(self, *args)
        finally:
            running[0] = False

    monkeypatch.setattr(ShapedModel, "compiled", spy_compile)
    monkeypatch.setattr(SuperResolution, "run", spy_run)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 44, 3), np.uint8)).save(tmp_path / "a.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 52 wide, 22 high; upright 22 wide, 52 high
    Image.fromarray(rng.integers(0, 255, (22, 52, 3), np.uint8)).save(tmp_path / "b.jpg", exif=exif.tobytes())
    NETWORKS.unload()
    try:
        code = main(["enhance", "-p", "scale=4", "--engine", "realesr-animevideov3", str(tmp_path / "a.png"), str(tmp_path / "b.jpg"), "-o", str(tmp_path / "out"), "--json"])
    finally:
        NETWORKS.unload()
    assert code == 0
    assert Image.open(next((tmp_path / "out").glob("b.*"))).size == (22 * 4, 52 * 4)
    assert (30, 44) in compiled and (52, 22) in compiled, "both files' shapes, the second upright"
    assert compiled_while_running == [], "no file paid a compile"
