"""Every model the studio runs, declared once. Sources are best first (the official release, then
what the package registry carries); the manifest (checkpoints/manifest.toml) says where each
file comes from, its checksum and its licence."""

from __future__ import annotations

from ..weights import WeightsSource
from .loaders.dlib_faces import DlibFaces
from .loaders.modules import FFDNetModule, LamaNetwork, UpConv7Module
from .loaders.pipelines import DiffusersPipeline
from .loaders.sam import Sam
from .loaders.sessions import OnnxSession, RembgSession, YuNetDetector
from .loaders.state_dicts import Spandrel
from .registry import declare
from .spec import ModelSpec, Precision, Work

NETWORK = Precision(half=True, int8=True)  # spandrel's networks: fp16 on CUDA where they support it, int8 through the backend choice
FIXED = Work(scales=False)  # a fixed input size whatever the picture: bounded work, not estimated
#: big-lama's convolutions per input pixel (counted on spandrel's LaMa at 64 and 128 px: 1.58 MFLOP; its
#: TorchScript export hides its layers from the count; the FFTs are left out)
LAMA_FLOPS = 1.6e6
SR = Work(faster="a smaller scale, or the faster engine realesr-animevideov3 (about 30x less work)")


def _sr(name: str, *sources: WeightsSource) -> ModelSpec:
    return ModelSpec(name, sources, Spandrel(), NETWORK, SR)


def _official_or_ncnn(name: str, official: str, ncnn: str) -> ModelSpec:
    return _sr(name, WeightsSource(official), WeightsSource(ncnn, "ncnn"))


def _restorer(name: str, weights: str) -> ModelSpec:
    return ModelSpec(name, (WeightsSource(weights),), Spandrel(), NETWORK)


declare(
    # super-resolution (the upscalers measure their own speed: ops.engines.upscale)
    _official_or_ncnn("realesrgan-x4plus", "RealESRGAN_x4plus", "realesrgan-x4plus-ncnn"),
    _sr("realesrgan-x2plus", WeightsSource("RealESRGAN_x2plus")),
    _sr("realesr-general-x4v3", WeightsSource("realesr-general-x4v3", blend_with="realesr-general-wdn-x4v3", blend=0.5), WeightsSource("realesr-general-x4v3")),
    _official_or_ncnn("realesrgan-x4plus-anime-6b", "RealESRGAN_x4plus_anime_6B", "realesrgan-x4plus-anime-ncnn"),
    _official_or_ncnn("realesr-animevideov3", "realesr-animevideov3", "realesr-animevideov3-ncnn"),
    ModelSpec(
        "waifu2x-photo", (WeightsSource("waifu2x-photo-jpeg", "ncnn"),), UpConv7Module(), work=Work(flops_per_pixel=1.1e6),
        variants={"level": (0, 1, 2, 3)},  # JPEG-noise level: one .bin each, one .param for all
    ),
    # restoration
    ModelSpec("ffdnet", (WeightsSource("ffdnet-color"),), FFDNetModule()),
    _restorer("scunet", "scunet-color-real-psnr"),
    _restorer("drunet", "drunet-color"),
    _restorer("nafnet-gopro", "nafnet-gopro-width64"),
    _restorer("gfpgan-v1.4", "gfpgan-v1.4"),
    _restorer("codeformer", "codeformer"),
    ModelSpec("big-lama", (WeightsSource("big-lama"),), LamaNetwork(), Precision(int8=True), Work(flops_per_pixel=LAMA_FLOPS)),
    ModelSpec("ddcolor", (WeightsSource("ddcolor"),), Spandrel(snapshot_file="pytorch_model.bin"), NETWORK, FIXED),
    # generative (hub snapshots)
    ModelSpec(
        "sd-inpainting", (WeightsSource("sd-inpainting"),),
        DiffusersPipeline("StableDiffusionInpaintPipeline", {"safety_checker": None, "requires_safety_checker": False}), Precision(half=True),
    ),
    ModelSpec("ldm-sr-4x", (WeightsSource("ldm-sr-4x"),), DiffusersPipeline("LDMSuperResolutionPipeline"), Precision(half=True)),
    # segmentation, detection (fixed input sizes)
    *(ModelSpec(name, (WeightsSource(name),), RembgSession(), work=FIXED) for name in ("birefnet-general", "isnet-general-use", "u2netp", "u2net_human_seg")),
    ModelSpec("sam-vit-b", (WeightsSource("sam-vit-b"),), Sam("vit_b"), work=FIXED),
    ModelSpec("ppocr-v4-det", (WeightsSource("ppocr-v4-det"),), OnnxSession(), work=FIXED),
    ModelSpec("yunet", (WeightsSource("yunet"),), YuNetDetector(), work=FIXED),
    ModelSpec(
        "dlib-faces", (WeightsSource("dlib-face-landmarks"),), DlibFaces(), work=FIXED,
        optional=("dlib_face_recognition_resnet_model_v1.dat",),  # installs from before the descriptor joined the entry still detect
    ),
)
