"""The checkpoint manager and the official-weight loading path, with random-weight checkpoints."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from ops import chain, models
from ops.imageio import Picture
from ops.runtime import loader
from ops.weights import FetchError, MissingWeightsError, WeightFile, Weights, WeightsSource, fetch, require
from tests.conftest import SetHost


def rrdb_state(blocks: int, scale: int, in_channels: int = 3) -> dict[str, torch.Tensor]:
    """Random weights in the official RRDBNet layout (what RealESRGAN_x4plus/x2plus/anime_6B hold),
    scaled to keep the signal's size through the convolutions, so the output is a picture, not black."""
    torch.manual_seed(blocks)

    def conv(cin: int, cout: int) -> dict[str, torch.Tensor]:
        return {"weight": torch.randn(cout, cin, 3, 3) / (cin * 9) ** 0.5, "bias": torch.zeros(cout)}

    layers = {"conv_first": conv(in_channels, 64)}
    for b in range(blocks):
        for r in (1, 2, 3):
            for c in range(1, 6):
                layers[f"body.{b}.rdb{r}.conv{c}"] = conv(64 + 32 * (c - 1), 32 if c < 5 else 64)
    layers |= {"conv_body": conv(64, 64), "conv_up1": conv(64, 64), "conv_up2": conv(64, 64), "conv_hr": conv(64, 64), "conv_last": conv(64, 3)}
    return {f"{name}.{k}": v for name, tensors in layers.items() for k, v in tensors.items()}


def compact_state(convs: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random SRVGGNetCompact weights (realesr-general-x4v3: 32 convs, animevideov3: 16)."""
    torch.manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    index = 0
    for i in range(convs + 1):
        cin = 3 if i == 0 else 64
        state[f"body.{index}.weight"] = torch.randn(64, cin, 3, 3) * 0.05
        state[f"body.{index}.bias"] = torch.zeros(64)
        state[f"body.{index + 1}.weight"] = torch.full((64,), 0.25)
        index += 2
    state[f"body.{index}.weight"] = torch.randn(48, 64, 3, 3) * 0.05
    state[f"body.{index}.bias"] = torch.zeros(48)
    return state


OFFICIAL = {  # x4plus and x2plus hold 23 blocks: 3 have the same layout at an eighth of the time on a small CPU
    "RealESRGAN_x4plus": lambda: rrdb_state(3, 4),
    "RealESRGAN_x2plus": lambda: rrdb_state(3, 2, in_channels=12),
    "RealESRGAN_x4plus_anime_6B": lambda: rrdb_state(6, 4),
    "realesr-general-x4v3": lambda: compact_state(32, 1),
    "realesr-general-wdn-x4v3": lambda: compact_state(32, 2),
    "realesr-animevideov3": lambda: compact_state(16),
}


@pytest.fixture
def random_official(random_weights):  # noqa: ANN001, ANN201
    """``random_official(*names)``: random-weight .pth files of these official architectures,
    installed as their manifest entries (-> the manifest)."""

    def install(*names: str) -> dict[str, Weights]:
        for name in names:
            random_weights(name, {"params_ema": OFFICIAL[name]()})
        return random_weights.entries

    return install


@pytest.mark.parametrize(
    ("engine", "scale", "model"),
    [
        ("realesrgan-x4plus", 4, "RealESRGAN_x4plus"),
        ("realesrgan-x2plus", 2, "RealESRGAN_x2plus"),
        ("realesr-general-x4v3", 4, "realesr-general-x4v3"),
        ("realesr-animevideov3", 4, "realesr-animevideov3"),
    ],
)
def test_official_weights_load_through_spandrel_and_run(random_official, engine: str, scale: int, model: str) -> None:
    from spandrel import ModelLoader

    from ops.engines import ENGINES
    from ops.engines.base import RunContext

    random_official(model, *(["realesr-general-wdn-x4v3"] if model == "realesr-general-x4v3" else []))
    pixels = np.random.default_rng(0).integers(0, 256, (12, 8, 3), dtype=np.uint8)  # sides x2plus takes unpadded (multiples of 4)
    steps = chain.plan([{"type": "enhance", "params": {"scale": scale}, "engine": engine}])
    result = chain.run(Picture(pixels), steps)
    assert result.picture.pixels.shape == (12 * scale, 8 * scale, 3)
    assert result.steps[0].details["weights"].startswith(model)  # the official file wins over the ncnn copy
    # a known input gives a known output: the network these weights make, run by spandrel itself
    state = OFFICIAL[model]()
    if "blended" in result.steps[0].details["weights"]:  # general-x4v3 runs half-and-half with its denoise companion
        companion = OFFICIAL[result.steps[0].details["weights"].rsplit(" ", 1)[-1]]()
        state = {k: 0.5 * v + 0.5 * companion[k] for k, v in state.items()}
    with torch.inference_mode():
        net = ModelLoader().load_from_state_dict(state).model.eval()
        expected = net(torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255)[0].permute(1, 2, 0).clamp(0, 1).numpy()
    ours = ENGINES[engine].run(Picture(pixels), None, RunContext(enlargement=scale)).pixels.astype(int)  # without the colour fix
    error = np.abs(ours - np.rint(expected * 255))
    assert error.mean() < 1 and np.percentile(error, 95) <= 1, (error.mean(), error.max())
    nearest = np.kron(pixels, np.ones((scale, scale, 1), np.uint8)).astype(int)
    if model.startswith("RealESRGAN"):  # RRDB: the random network's own picture, nothing like the input
        assert np.abs(ours - nearest).mean() > 50
    else:  # SRVGG compact adds the nearest-upscaled input to what its (here faint) body makes
        assert np.abs(ours - nearest).mean() < 2


def test_anime_6b_official_weights(random_official) -> None:  # noqa: ANN001
    random_official("RealESRGAN_x4plus_anime_6B")
    result = chain.run(Picture(np.zeros((8, 8, 3), np.uint8)), chain.plan([{"type": "enhance-anime"}]))
    assert result.steps[0].details["weights"] == "RealESRGAN_x4plus_anime_6B"


def test_general_v3_blends_with_its_denoise_companion(random_official) -> None:  # noqa: ANN001
    entries = random_official("realesr-general-x4v3", "realesr-general-wdn-x4v3")
    source = WeightsSource("realesr-general-x4v3", blend_with="realesr-general-wdn-x4v3", blend=0.5)
    blended = loader.state_dict(source, {name: require(entries[name]) for name in ("realesr-general-x4v3", "realesr-general-wdn-x4v3")})
    a, b = compact_state(32, 1), compact_state(32, 2)
    assert torch.allclose(blended["body.0.weight"], 0.5 * a["body.0.weight"] + 0.5 * b["body.0.weight"])
    network = models.model("realesr-general-x4v3").net
    assert network.architecture == "RealESRGAN Compact" and network.scale == 4


def test_damaged_weights_are_refused_with_the_fix(random_official, tmp_path: Path) -> None:  # noqa: ANN001
    entries = random_official("RealESRGAN_x4plus")
    (tmp_path / "RealESRGAN_x4plus.pth").write_bytes(b"x" * (tmp_path / "RealESRGAN_x4plus.pth").stat().st_size)
    with pytest.raises(MissingWeightsError, match="python -m ops weights fetch RealESRGAN_x4plus"):
        require(entries["RealESRGAN_x4plus"])


def test_missing_weights_name_the_fetch_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, set_host: SetHost) -> None:
    import ops.weights.store as store

    monkeypatch.setattr(store, "DEFAULT_FOLDER", tmp_path / "empty")
    set_host(checkpoints=tmp_path / "nothing")
    with pytest.raises(Exception, match="python -m ops weights fetch realesrgan-x4plus-ncnn"):
        chain.plan([{"type": "enhance", "params": {"scale": 4}, "engine": "realesrgan-x4plus"}])


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static server that honours Range requests, like release hosts do."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        data = Path(self.directory, self.path.lstrip("/")).read_bytes()
        start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: RangeHandler(*a, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()


def url_model(base: str, data: bytes, sha256: str | None, md5: str | None = None) -> Weights:
    weight = WeightFile.model_construct(file="w.pth", sha256=sha256, md5=md5, size=len(data), member=None, url=f"{base}/w.pth")
    return Weights(name="test-model", title="t", license="MIT", files=(weight,))


def test_md5_only_weights_are_checked_by_md5_and_size_then_by_the_recorded_sha256(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    base, root = server
    data = bytes(range(256)) * 300
    (root / "w.pth").write_bytes(data)
    set_host(checkpoints=tmp_path)
    with pytest.raises(FetchError, match="md5 mismatch"):
        fetch(url_model(base, data, None, "0" * 32), lambda m: None)
    assert not (tmp_path / "w.pth").exists()
    model = url_model(base, data, None, hashlib.md5(data).hexdigest())
    fetch(model, lambda m: None)
    assert '"w.pth": "' + hashlib.sha256(data).hexdigest() in (tmp_path / ".verified-sha256.json").read_text()
    assert require(model)["w.pth"] == tmp_path / "w.pth"
    (tmp_path / "w.pth").write_bytes(bytes(len(data)))  # replaced later by something else of the same size
    with pytest.raises(MissingWeightsError, match="does not match"):
        require(model)


def test_url_fetch_resumes_and_verifies(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    base, root = server
    data = bytes(range(256)) * 4000
    (root / "w.pth").write_bytes(data)
    target = tmp_path / "ckpt"
    target.mkdir()
    set_host(checkpoints=target)
    (target / "w.pth.part").write_bytes(data[:100_000])  # an interrupted earlier download
    messages: list[str] = []
    fetch(url_model(base, data, hashlib.sha256(data).hexdigest()), messages.append)
    assert (target / "w.pth").read_bytes() == data and not (target / "w.pth.part").exists()
    assert "resuming at 100,000 bytes" in messages[0]


def test_url_fetch_refuses_a_wrong_checksum_and_unverified_files(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    base, root = server
    (root / "w.pth").write_bytes(b"evil" * 1000)
    set_host(checkpoints=tmp_path)
    with pytest.raises(FetchError, match="sha256 mismatch"):
        fetch(url_model(base, b"evil" * 1000, "0" * 64), lambda m: None)
    assert not (tmp_path / "w.pth").exists() and not (tmp_path / "w.pth.part").exists()
    with pytest.raises(FetchError, match="no published checksum"):
        fetch(url_model(base, b"evil" * 1000, None), lambda m: None)


def test_torchvision_compat_nms() -> None:
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float)
    keep = torch.ops.torchvision.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    assert keep.tolist() == [0, 2]


def test_recommended_names_the_best_of_each_kind() -> None:
    from ops.cli.weights import _select
    from ops.weights import load

    chosen = _select(["recommended"], load())
    assert {"birefnet-general", "big-lama", "gfpgan-v1.4", "RealESRGAN_x4plus"} <= set(chosen)
    assert "codeformer" not in chosen  # non-commercial licence: installed only when asked for by name
