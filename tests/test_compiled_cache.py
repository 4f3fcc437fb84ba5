"""The compiled cache on disk stays within STUDIO_COMPILED_CACHE_BYTES (least recently used
deleted, never an entry in use), and what backends hold in memory beside a network's weights
(compiled shapes, their activations) is counted in the network budget and freed least recently used."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
import torch
from spandrel.architectures.Compact.__arch.SRVGG import SRVGGNetCompact

from ops.runtime.backends import disk
from ops.runtime.backends.base import BACKENDS, IMAGE
from ops.runtime.manager import NETWORKS, building
from tests.conftest import SetHost

MB = 1 << 20


def tiny_upscaler() -> torch.nn.Module:
    torch.manual_seed(0)
    return SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2).eval()


def fake_cache(root: Path) -> Path:
    """An IR (two files) and four kernel entries of 1 MB each, used in the order listed, an hour ago and on."""
    cache = root / "compiled"
    (cache / disk.KERNELS).mkdir(parents=True)
    (cache / "backends.json").write_text("{}")
    made = [cache / "net.xml", cache / "net.bin"] + [disk.kernels(cache, f"net@bf16-2t-{side}x{side}") / "blob.blob" for side in (64, 80, 96, 112)]
    for file in made:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(b"\0" * (MB // 2 if file.suffix in (".xml", ".bin") else MB))
    base = time.time() - 3600
    for order, entry in enumerate([cache / "net", *(disk.kernels(cache, f"net@bf16-2t-{s}x{s}") for s in (64, 80, 96, 112))]):
        for file in disk._files(entry):
            os.utime(file, (base + order * 60, base + order * 60))
    return cache


def names(cache: Path) -> list[str]:
    return [entry.path.name for entry in disk.entries(cache)]


def test_the_disk_cache_is_trimmed_to_its_bound_least_recently_used_first(tmp_path: Path) -> None:
    cache = fake_cache(tmp_path)
    assert names(cache) == ["net", "net@bf16-2t-64x64", "net@bf16-2t-80x80", "net@bf16-2t-96x96", "net@bf16-2t-112x112"]
    assert disk.size(cache) == 5 * MB + 2
    disk.use(disk.kernels(cache, "net@bf16-2t-64x64"), force=True)  # used now: the most recent
    removed = disk.trim(cache, bound=3 * MB + 100)
    assert [p.name for p in removed] == ["net", "net@bf16-2t-80x80"], "oldest first, the IR's two files as one entry"
    assert names(cache) == ["net@bf16-2t-96x96", "net@bf16-2t-112x112", "net@bf16-2t-64x64"]
    assert disk.size(cache) <= 3 * MB + 100 and (cache / "backends.json").exists(), "the verdicts are kept"
    assert disk.trim(cache, bound=3 * MB + 100) == [], "within the bound: nothing to do"


def test_entries_in_use_survive_a_trim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = fake_cache(tmp_path)
    oldest = disk.kernels(cache, "net@bf16-2t-64x64")
    disk.hold(cache / "net")  # a loaded network's IR
    disk.hold(oldest)  # a shape compiled in memory
    try:
        recent = disk.kernels(cache, "net@bf16-2t-112x112")
        for file in disk._files(recent):
            os.utime(file, (time.time() + 1, time.time() + 1))  # used just now, by another process perhaps
        disk.trim(cache, bound=0)
        assert names(cache) == ["net", "net@bf16-2t-64x64", "net@bf16-2t-112x112"]
    finally:
        disk.let_go(cache / "net")
        disk.let_go(oldest)
    monkeypatch.setattr(disk, "RECENT_SECONDS", -1.0)  # holding them touched them: no grace now
    disk.trim(cache, bound=0)
    assert names(cache) == [], "let go: trimmed like the others"


def test_compiled_shapes_are_entries_of_their_own_and_the_cache_keeps_its_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    from ops.runtime.backends import openvino_cpu

    monkeypatch.setattr(openvino_cpu, "KEEP_SHAPES", 1)
    monkeypatch.setattr(disk, "RECENT_SECONDS", -1.0)  # no grace: only what this process holds is kept
    set_host(compiled_cache_bytes=0)
    call = BACKENDS["openvino-f32"].build(tiny_upscaler(), IMAGE, tmp_path, "tiny")
    for side in (32, 48, 64):
        call(torch.rand(1, 3, side, side))
    kept = names(tmp_path)
    assert kept == ["tiny", f"tiny@f32-{torch.get_num_threads()}t-64x64"], "the IR and the one shape held; the dropped ones deleted"
    assert call.compile_cost([(64, 64)]) == 0 and call.run.compile_cost([(48, 48)]) == call.run.seconds["compile"]


@pytest.fixture
def fresh_manager() -> Iterator[None]:
    NETWORKS.unload()
    yield
    NETWORKS.unload()


def test_the_manager_frees_the_least_recently_used_parts_over_its_budget(fresh_manager: None, set_host: SetHost) -> None:
    set_host(max_network_bytes=10 * MB, max_loaded_networks=3)
    freed: list[str] = []

    def load() -> object:
        owner = building()
        NETWORKS.charge(owner, "copy", 2 * MB)  # a backend's copy of the weights: goes with the network only
        NETWORKS.charge(owner, "shape A", 3 * MB, lambda: freed.append("A"))
        return object()

    NETWORKS.get("net", load, lambda _: MB)
    assert NETWORKS.total_bytes() == 6 * MB
    NETWORKS.charge("net", "activations A", 3 * MB, lambda: freed.append("activations A"), transient=True)
    NETWORKS.charge("net", "shape B", 3 * MB, lambda: freed.append("B"))
    assert freed == ["A"] and NETWORKS.total_bytes() == 9 * MB, "over 10 MB: the oldest part went, not the one charged"
    NETWORKS.touch("net", "activations A")
    NETWORKS.charge("net", "shape C", 3 * MB, lambda: freed.append("C"))
    assert freed == ["A", "B"], "activations A was used after shape B"
    NETWORKS.idle()
    assert freed == ["A", "B", "activations A"] and NETWORKS.parts("net") == {"copy": 2 * MB, "shape C": 3 * MB}
    NETWORKS.get("other", lambda: object(), lambda _: 5 * MB)
    assert freed[-1] == "C" and NETWORKS.loaded() == ["net", "other"], "a newly loaded network makes room too"
    NETWORKS.get("third", lambda: object(), lambda _: 4 * MB)
    assert NETWORKS.loaded() == ["other", "third"], "then whole networks, least recently used"


def test_compiled_shapes_and_their_activations_count_in_the_network_budget(fresh_manager: None, tmp_path: Path, set_host: SetHost,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny OpenVINO network in the manager, each compile and each first run measured as 2 MB."""
    from ops.runtime.backends import openvino_cpu
    from ops.runtime.tiling import TileConfig, upscale_array

    readings = iter(range(0, 1 << 40, 2 * MB))
    monkeypatch.setattr(openvino_cpu, "resident", lambda: next(readings))  # every measured growth: 2 MB
    set_host(max_network_bytes=5 * MB)
    shaped = NETWORKS.get("tiny", lambda: BACKENDS["openvino-f32"].build(tiny_upscaler(), IMAGE, tmp_path, "tiny"), lambda _: 0)
    weights = NETWORKS.total_bytes()
    assert 0 < weights < MB, "OpenVINO's copy of the weights is counted"
    shaped(torch.rand(1, 3, 32, 32))
    assert set(shaped.run.static) == {(32, 32)} and NETWORKS.total_bytes() == weights + 4 * MB, "the shape and its activations"
    shaped(torch.rand(1, 3, 48, 48))
    assert set(shaped.run.static) == {(48, 48)}, "over 5 MB: the older shape was freed"
    assert NETWORKS.total_bytes() == weights + 4 * MB
    image = np.random.default_rng(0).random((40, 40, 3), dtype=np.float32)
    upscale_array(shaped, image, 2, torch.device("cpu"), config=TileConfig(tile=0))
    assert not any("activations" in str(name) for name in NETWORKS.parts("tiny")), "the pass ended: activations freed"
    assert set(shaped.run.static) == {(40, 40)} and not shaped.run.static[(40, 40)].hot
    NETWORKS.unload()
    assert NETWORKS.total_bytes() == 0


def test_python_m_ops_weights_shows_the_compiled_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.cli import main

    fake_cache(tmp_path)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STUDIO_COMPILED_CACHE_BYTES", str(512 * MB))
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["weights"]) == 0
    line = printed.getvalue().splitlines()[-1]
    assert line.startswith(f"compiled cache {tmp_path / 'compiled'}: 5 MB of 537 MB") and "5 entries" in line, line


def test_an_images_tiles_are_one_shape_and_blend_to_the_image() -> None:
    """One window size an image (one compiled shape, not four), and the blending weights, kept as a
    row and a column instead of a second image, still sum to one everywhere."""
    from ops.runtime.tiling import TileConfig, plan_axis, plan_tiles, upscale_array

    config = TileConfig()
    for length in range(1, 3000, 7):
        plan = plan_axis(length, 384, config, 16)
        assert len(set(plan.window_sides)) == 1
        assert all(0 <= lo <= start and start + plan.size <= hi <= length for start, (lo, hi) in zip(plan.starts, plan.windows))
        if len(plan.starts) == 2:
            assert plan.window_sides[0] == min(length, plan.size + config.context), "two edge tiles: nothing added"
        assert (plan.starts, plan.size) == plan_tiles(length, 384, config.overlap, 16), "the tiles themselves as before"

    def nearest(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")

    image = np.random.default_rng(0).random((150, 230, 3), dtype=np.float32)
    out = upscale_array(nearest, image, 2, torch.device("cpu"), config=TileConfig(tile=48, overlap=8, context=8))
    assert np.allclose(out, image.repeat(2, axis=0).repeat(2, axis=1), atol=1e-5)
