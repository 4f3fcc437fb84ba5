"""The model registry (ops.models): every declared model, from every one of its sources, loads from
a random-weight file of its real format through ``model(name)``, the code the real weights go
through (verified, keyed, loaded, on its backend), and runs one forward pass.

Made here: state dicts of the real architectures (small configurations where spandrel reads the
size from the weights; GFPGAN and SAM only exist at full size), ncnn ``.bin`` files for the real
``.param`` files, ONNX files (one convolution, ``tests/random_onnx.py``), a TorchScript LaMa
stand-in (IOPaint's release is a TorchScript archive; spandrel's LaMa state dict is loaded by
``tests/test_background.py``), tiny diffusers pipelines and a small DDColor as hub snapshots,
recorded as ``weights fetch`` records them. Not made: dlib's ``.dat`` models (dlib's own
serialisation, no writer in its Python API) and YuNet (OpenCV's detector wants the real network's
twelve outputs): they load from the real files (the setup's dlib models, YuNet from
``../shared/weights`` when it is there), and for them, as for the others, a tampered copy is
refused before use.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from ops.engines.base import RunContext
from ops.errors import WorkLimitError
from ops.models import MODELS, model, use
from ops.models.registry import key
from ops.run_config import RunConfig
from ops.runtime.manager import NETWORKS
from ops.runtime.ncnn_convert import TAG_FP16, parse_param
from ops.weights import MissingWeightsError, WeightFile, WeightsSource, entry, snapshots
from ops.weights.store import DEFAULT_FOLDER
from tests.conftest import EXAMPLES, ROOT, SetHost
from tests.random_onnx import conv_sigmoid

SHARED_WEIGHTS = ROOT.parent / "shared" / "weights"
Install = Callable[[str, dict[str, bytes]], None]


def saved(state: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def spandrel_state(name: str) -> dict[str, torch.Tensor]:
    """A random state dict of the real architecture behind manifest entry ``name``."""
    from ops.runtime import loader  # noqa: F401  (spandrel with the torchvision operators it needs)
    from tests.test_weights import OFFICIAL

    torch.manual_seed(0)
    if name in OFFICIAL:
        return {"params_ema": OFFICIAL[name]()}  # type: ignore[return-value]
    if name == "ffdnet-color":
        from ops.architectures.ffdnet import FFDNet

        return FFDNet(nc=16, nb=4).state_dict()
    if name == "scunet-color-real-psnr":
        from spandrel.architectures.SCUNet import SCUNet

        return SCUNet(config=[1, 1, 1, 1, 1, 1, 1], dim=64).state_dict()
    if name == "drunet-color":
        from spandrel.architectures.DRUNet import DRUNet

        return DRUNet(in_nc=4, out_nc=3, nc=[8, 16, 32, 64], nb=2).state_dict()
    if name == "nafnet-gopro-width64":
        from spandrel.architectures.NAFNet import NAFNet

        return NAFNet(width=8, enc_blk_nums=[1, 1], middle_blk_num=1, dec_blk_nums=[1, 1]).state_dict()
    if name == "gfpgan-v1.4":
        from spandrel.architectures.GFPGAN import GFPGAN

        return GFPGAN(out_size=512).state_dict()
    if name == "codeformer":
        from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

        return CodeFormer(dim_embd=64, n_head=2, n_layers=1, codebook_size=64).state_dict()
    if name == "sam-vit-b":
        from segment_anything import sam_model_registry

        return sam_model_registry["vit_b"]().state_dict()
    raise KeyError(name)


class TinyLama(torch.nn.Module):
    """Stands in for IOPaint's TorchScript LaMa: (image, mask) in, image out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(torch.cat([image, mask], 1)))


def random_ncnn_bin(param: Path) -> bytes:
    """Random fp16 weights (fp32 biases and slopes, as ncnn keeps them) for every weighted layer of ``param``."""
    rng, out = np.random.default_rng(0), bytearray()
    for layer in parse_param(param.read_text()):
        if layer.kind in ("Convolution", "Deconvolution"):
            outputs, size = int(layer.params[0]), int(layer.params[6])
            weights = rng.normal(0, (outputs / size) ** 0.5, size).astype("<f2").tobytes()
            out += struct.pack("<I", TAG_FP16) + weights + b"\0" * (-len(weights) % 4)
            out += np.zeros(outputs if int(layer.params.get(5, 0)) else 0, "<f4").tobytes()
        elif layer.kind == "PReLU":
            out += np.full(int(layer.params.get(0, 1)), 0.25, "<f4").tobytes()
    return bytes(out)


def ncnn_files(name: str) -> dict[str, bytes]:
    """The real ``.param`` (architecture only) with a random ``.bin`` for each of the entry's ``.bin`` files."""
    files = entry(name).files
    param = next(f.file for f in files if f.file.endswith(".param"))
    if not (DEFAULT_FOLDER / param).is_file():
        pytest.skip(f"{param} is not installed (python -m ops weights fetch registry)")
    return {param: (DEFAULT_FOLDER / param).read_bytes()} | {f.file: random_ncnn_bin(DEFAULT_FOLDER / param) for f in files if f.file.endswith(".bin")}


def ddcolor_snapshot(folder: Path) -> None:
    from spandrel_extra_arches.architectures.DDColor import DDColor

    from ops.runtime import loader  # noqa: F401  (spandrel's extra architectures)

    torch.manual_seed(0)
    (folder / "ddcolor").mkdir()
    net = DDColor(encoder_name="convnext-t", num_queries=8, dec_layers=3, input_size=(64, 64), num_output_channels=2)
    torch.save(net.state_dict(), folder / "ddcolor" / "pytorch_model.bin")
    snapshots.record(entry("ddcolor"), folder / "ddcolor")


def snapshot(name: str, folder: Path) -> None:
    from tests.test_generate import tiny_ldm, tiny_pipeline

    {"sd-inpainting": tiny_pipeline, "ldm-sr-4x": tiny_ldm, "ddcolor": ddcolor_snapshot}[name](folder)


ONNX = {"u2netp", "isnet-general-use", "birefnet-general", "u2net_human_seg", "ppocr-v4-det"}
REAL = {"dlib-face-landmarks", "yunet"}  # not generated (module docstring)


def install_source(source: WeightsSource, install: Install, folder: Path) -> None:
    """Random files of the source's real format, installed as its manifest entries (its blend too)."""
    for name in filter(None, (source.weights, source.blend_with)):
        weights = entry(name)
        if weights.folder:
            snapshot(name, folder)
        elif name == "yunet" and not (SHARED_WEIGHTS / weights.files[0].file).exists():
            from tests.test_background import fake_yunet

            install(name, {weights.files[0].file: fake_yunet()})  # YuNet's format, made here (CI has no copy)
        elif name in REAL:
            real(name, folder)
        elif source.format == "ncnn":
            install(name, ncnn_files(name))
        elif name in ONNX:
            install(name, {weights.files[0].file: conv_sigmoid()})
        elif name == "big-lama":
            install(name, {weights.files[0].file: saved_script(TinyLama())})
        else:
            install(name, {weights.files[0].file: saved(spandrel_state(name))})


def saved_script(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()


def real(name: str, folder: Path) -> None:
    if name == "yunet":
        source = SHARED_WEIGHTS / entry("yunet").files[0].file
        if not source.exists():
            pytest.skip("../shared/weights has no YuNet copy")
        shutil.copy(source, folder / source.name)
    elif any(not (DEFAULT_FOLDER / f.file).is_file() for f in entry(name).files):
        pytest.skip(f"{name} is not installed (python -m ops weights fetch registry)")


def forward(name: str, net: Any) -> None:
    """One forward pass of ``name``'s network as its engine calls it, with a sane result."""
    rgb = np.asarray(Image.open(EXAMPLES / "portrait.jpg").convert("RGB"))
    if name == "ffdnet":
        out = net(torch.rand(1, 3, 16, 16), 0.1)
    elif name == "waifu2x-photo":
        out = net(torch.rand(1, 3, 16, 16))
        assert out.shape == (1, 3, 32, 32)
    elif name in ("gfpgan-v1.4", "codeformer"):
        out = net.call(torch.rand(1, net.channels, 512, 512))
    elif name == "ddcolor":
        out = net.call(torch.rand(1, 1, 40, 56))
        assert out.shape == (1, 3, 40, 56)
    elif name == "big-lama":
        out = net.call(torch.rand(1, 4, 32, 40))
        assert out.shape == (1, 3, 32, 40)
    elif name in ONNX - {"ppocr-v4-det"}:
        out = torch.from_numpy(np.asarray(net.predict(Image.fromarray(rgb[:96, :128]))[0], np.float32))
        assert out.shape == (96, 128)
    elif name == "ppocr-v4-det":
        out = torch.from_numpy(net.run(None, {net.get_inputs()[0].name: np.random.rand(1, 3, 64, 96).astype(np.float32)})[0])
        assert out.shape == (1, 1, 64, 96)
    elif name == "sam-vit-b":
        net.set_image(rgb[:64, :64].copy())
        masks, _, _ = net.predict(point_coords=np.array([[30, 30]]), point_labels=np.array([1]), multimask_output=True)
        out = torch.from_numpy(masks.astype(np.float32))
    elif name == "sd-inpainting":
        image, mask = Image.fromarray(rgb[:64, :64].copy()), Image.fromarray(np.full((64, 64), 255, np.uint8))
        out = torch.from_numpy(net(prompt="a beach", image=image, mask_image=mask, height=64, width=64, num_inference_steps=1, output_type="np").images[0])
    elif name == "ldm-sr-4x":
        out = torch.from_numpy(net(image=torch.rand(1, 3, 16, 16) * 2 - 1, num_inference_steps=1, output_type="np").images[0])
    elif name == "yunet":
        found = net(np.ascontiguousarray(rgb[..., ::-1]))
        out = torch.from_numpy(np.asarray(found if found is not None else np.zeros((0, 15)), np.float32))
        green = np.zeros((96, 96, 3), np.uint8)
        green[32:64, 32:64] = (0, 255, 0)  # what the generated stand-in finds; the real weights find the portrait's face
        stand_in = net(np.ascontiguousarray(green[..., ::-1]))
        assert out.shape[0] == 1 or (stand_in is not None and len(stand_in) == 1)
    elif name == "dlib-faces":
        assert len(net.detector(rgb, 0)) == 1 and net.descriptor is not None
        out = torch.zeros(1)
    else:  # spandrel's image-to-image networks: a tile in, the tile scaled out
        out = net.call(torch.rand(1, net.channels, 16, 16))
        assert out.shape[-2:] == (16 * net.scale, 16 * net.scale)
    assert torch.isfinite(out.float()).all()


SOURCES = [(name, source) for name, spec in MODELS.items() for source in spec.sources]


@pytest.fixture
def install(random_weights, tmp_path: Path) -> Install:
    """``install(entry, {file: bytes})``: the files in the weights folder, the entry's checksums theirs."""

    def put(name: str, files: dict[str, bytes]) -> None:
        for file, data in files.items():
            (tmp_path / file).write_bytes(data)
        digests = (WeightFile(file=file, sha256=hashlib.sha256(data).hexdigest(), size=len(data)) for file, data in files.items())
        random_weights.entries[name] = random_weights.entries[name].model_copy(update={"files": tuple(digests)})
        NETWORKS.unload()

    return put


@pytest.mark.parametrize(("name", "source"), SOURCES, ids=[f"{n}:{s.weights}{'+' + s.blend_with if s.blend_with else ''}" for n, s in SOURCES])
def test_every_model_loads_from_random_weights_of_its_format(name: str, source: WeightsSource, install: Install, tmp_path: Path) -> None:
    install_source(source, install, tmp_path)
    spec = MODELS[name]
    for variant in [{option: value} for option, values in spec.variants.items() for value in values] or [{}]:
        ready = model(name, source=source, **variant)
        assert ready.source == source and NETWORKS.loaded()[-1] == key(spec, source, variant, False)
        forward(name, ready.net)
        assert not spec.work.scales or (spec.work.flops_per_pixel or ready.built.flops_per_pixel or 0) > 0, "its work can be estimated"
    NETWORKS.unload()


def test_every_model_is_declared_with_sources_the_manifest_knows() -> None:
    for name, spec in MODELS.items():
        assert spec.sources and all(entry(s.weights) and (s.blend_with is None or entry(s.blend_with)) for s in spec.sources), name
    assert {s.weights for spec in MODELS.values() for s in spec.sources} >= {"yunet", "sd-inpainting", "dlib-face-landmarks", "waifu2x-photo-jpeg"}


def tamper(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the hash tells
    path.write_bytes(bytes(data))


def test_a_damaged_file_is_refused_before_use(install: Install, tmp_path: Path) -> None:
    install_source(MODELS["ffdnet"].sources[0], install, tmp_path)
    model("ffdnet")
    tamper(tmp_path / "ffdnet_color.pth")
    NETWORKS.unload()
    with pytest.raises(MissingWeightsError, match="does not match its sha256.*python -m ops weights fetch ffdnet-color"):
        model("ffdnet")


@pytest.mark.parametrize("name", ["yunet", "dlib-faces"])
def test_yunet_and_dlib_are_verified_too(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    """The files that cannot be generated: a copy of the right size with one byte changed is refused."""
    set_host(checkpoints=tmp_path)
    weights = entry(MODELS[name].sources[0].weights)
    for weight in weights.files:
        real = DEFAULT_FOLDER / weight.file if (DEFAULT_FOLDER / weight.file).is_file() else SHARED_WEIGHTS / weight.file
        if real.is_file():
            shutil.copy(real, tmp_path / weight.file)
        else:  # not here at all: random bytes of its size stand for it
            (tmp_path / weight.file).write_bytes(np.random.default_rng(0).bytes(weight.size or 1024))
        tamper(tmp_path / weight.file)
    NETWORKS.unload()
    with pytest.raises(MissingWeightsError, match="does not match its sha256"):
        model(name)


def test_a_hub_snapshot_is_verified_file_by_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    set_host(checkpoints=tmp_path)
    ddcolor_snapshot(tmp_path)
    folder = tmp_path / "ddcolor"
    NETWORKS.unload()
    assert model("ddcolor").net.architecture == "DDColor"
    (folder / "extra.json").write_text("{}")  # a file that was not installed
    NETWORKS.unload()
    with pytest.raises(MissingWeightsError, match="extra.json added or missing"):
        model("ddcolor")
    (folder / "extra.json").unlink()
    tamper(folder / "pytorch_model.bin")
    with pytest.raises(MissingWeightsError, match="does not match the sha256 recorded at install"):
        model("ddcolor")
    (folder / snapshots.BOOK).unlink()  # digests never recorded, and no Hub records to check it against
    with pytest.raises(MissingWeightsError, match="cannot be verified"):
        model("ddcolor")
    NETWORKS.unload()


def test_a_snapshot_is_checked_against_the_hubs_own_digests_at_install(tmp_path: Path) -> None:
    """huggingface_hub keeps each download's etag: the LFS sha256 of large files, the git blob id of small ones."""
    folder = tmp_path / "ddcolor"
    folder.mkdir()
    (folder / "pytorch_model.bin").write_bytes(b"weights")
    (folder / "config.json").write_text("{}")
    records = folder / ".cache" / "huggingface" / "download"
    records.mkdir(parents=True)
    blob = hashlib.sha1(b"blob 2\0{}", usedforsecurity=False).hexdigest()
    for file, etag in (("pytorch_model.bin", hashlib.sha256(b"weights").hexdigest()), ("config.json", blob)):
        (records / f"{file}.metadata").write_text(f"{'0' * 40}\n{etag}\n{9e9}\n")
    assert snapshots.record(entry("ddcolor"), folder) == {"config.json": hashlib.sha256(b"{}").hexdigest(), "pytorch_model.bin": hashlib.sha256(b"weights").hexdigest()}
    (folder / "pytorch_model.bin").write_bytes(b"other!!")
    with pytest.raises(MissingWeightsError, match="does not match the digest the Hub gave"):
        snapshots.record(entry("ddcolor"), folder)


def test_int8_on_a_model_without_it_is_said_and_a_variant_must_be_declared() -> None:
    ctx = RunContext(run=RunConfig(int8=True))
    use("waifu2x-photo", ctx, level=0)
    assert "the int8 speed mode asked for does not apply to waifu2x-photo; it ran at full precision" in ctx.warnings
    with pytest.raises(ValueError, match="not one of its variants"):
        model("waifu2x-photo", level=7)


def test_the_job_seconds_limit_holds_for_every_model_that_scales() -> None:
    ctx = RunContext(run=RunConfig(max_job_seconds=1))
    use("ffdnet", ctx, pixels=64 * 64)  # small: allowed
    with pytest.raises(WorkLimitError, match=r"ffdnet would need about .* TFLOP.*STUDIO_MAX_JOB_SECONDS"):
        use("ffdnet", ctx, pixels=20_000 * 20_000)
    with pytest.raises(WorkLimitError, match="waifu2x-photo"):  # declared FLOPs: refused before loading
        use("waifu2x-photo", ctx, pixels=20_000 * 20_000, level=0)
    use("ffdnet", RunContext(run=RunConfig(max_job_seconds=1e9)), pixels=20_000 * 20_000)  # another job's limit: allowed
    scaling = [name for name, spec in MODELS.items() if spec.work.scales]
    assert {"ffdnet", "scunet", "drunet", "nafnet-gopro", "gfpgan-v1.4", "codeformer", "big-lama", "sd-inpainting", "ldm-sr-4x"} <= set(scaling)


def test_the_web_tabs_honour_the_int8_setting(tmp_path: Path) -> None:
    """The web app plans with its server's settings, as the REST API does (a step's speed over them)."""
    from ops import chain
    from ops.settings import Settings
    from service.studio import Studio
    from webui.access import Access

    access = Access(Studio.create(Settings(data_dir=tmp_path, int8=True)).service)
    assert access.run.int8 and not Access(Studio.create(Settings(data_dir=tmp_path / "b")).service).run.int8
    assert chain.plan_one("enhance", {"scale": 2}, run=access.run)[0].int8
    assert chain.plan([{"type": "enhance", "params": {"scale": 2}}], run=access.run)[0].int8
    assert not chain.plan([{"type": "enhance", "params": {"scale": 2}, "speed": "exact"}], run=access.run)[0].int8


def test_the_face_detector_chain_says_when_it_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    from ops.engines.faces import find_faces

    set_host(checkpoints=tmp_path)
    if MODELS["yunet"].unavailable_reason() is None:
        pytest.skip("YuNet is installed in checkpoints/: no fallback to see")
    ctx = RunContext()
    faces, detector = find_faces(np.asarray(Image.open(EXAMPLES / "portrait.jpg").convert("RGB")), ctx)
    assert detector == "dlib-mmod" and len(faces) == 1
    assert ctx.warnings == ["used dlib-mmod because better face detectors cannot run here: yunet (weights yunet are not installed: run `python -m ops weights fetch yunet`)"]


def test_an_engine_that_needs_another_operation_declares_it_and_its_fallback_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    from ops import chain
    from ops.engines import ENGINES, needed
    from ops.imageio import Picture

    set_host(checkpoints=tmp_path)
    assert ENGINES["ppocr-v4-det"].needs == {"inpainter": "remove-object"} and ENGINES["saliency-and-faces"].needs == {"segmenter": "remove-background"}
    choice = needed(ENGINES["ppocr-v4-det"], "inpainter")
    if choice.engine.name == "big-lama":
        pytest.skip("LaMa is installed in checkpoints/: no fallback to see")
    assert choice.engine.name == "patchmatch" and choice.preferred == "big-lama"
    picture = Picture(np.zeros((48, 64, 3), np.uint8))
    step = chain.run(picture, chain.plan([{"type": "remove-text", "params": {}}])).steps[0]
    assert choice.warnings[0] in step.warnings and step.warnings[0].startswith("used patchmatch because better engines cannot run here: big-lama")


def test_no_engine_loads_a_network_itself() -> None:
    """Engines ask the registry: no manager call, no weights lookup, no loader closure in ops/engines."""
    calls = re.compile(r"(?<![\w.])(network|require)\(|\.(network|require)\(|\bload_adapted\(|\bload_folder\(")
    found = [f"{path.name}:{number}: {line.strip()}" for path in sorted((ROOT / "ops" / "engines").glob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if calls.search(line)]  # fmt: skip
    assert not found, found
