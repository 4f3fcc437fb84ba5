"""The model names of spec 002, each a named chain of operations with chosen engines.

A preset never adds processing of its own: running one is exactly running its steps, so the
job result names the engines that ran, step by step.
"""

from __future__ import annotations

from typing import Any

from .operation import Preset


def step(operation: str, engine: str = "auto", instead: tuple[str, ...] = (), **params: Any) -> dict[str, Any]:
    """A named step: its engine is the model's preference; where it cannot run, the first of
    ``instead`` that can (else the best that can) runs, and the result says so."""
    return {"type": operation, "params": params, "engine": engine, "fallback": list(instead) if instead else engine != "auto"}


def _face(name: str, display: str, scale: int, engine: str, level: float, coins: int, summary: str, instead: tuple[str, ...]) -> Preset:
    return Preset(
        name=name,
        display_name=display,
        summary=summary,
        steps=(step("enhance", engine=FAITHFUL, scale=scale), step("enhance-face", engine=engine, instead=instead, enhancement_level=level)),
        coins=coins,
    )


def _generative(scale: int) -> dict[str, Any]:
    """The diffusion upscaler and nothing else: a generative name never quietly runs a GAN."""
    return {"type": "enhance", "params": {"scale": scale}, "engine": "ldm-sr-4x"}


def _upscale(name: str, display: str, scale: int, engine: str, coins: int, summary: str, instead: tuple[str, ...] = ()) -> Preset:
    return Preset(name=name, display_name=display, summary=summary, steps=(step("enhance", engine=engine, instead=instead, scale=scale),), coins=coins)


#: the face names' first step: the restorer makes the face; around it (neck, hands, hair) a GAN upscaler's
#: wax and grain cost more than they add (bench/faces.py --presets: both names fell below Lanczos with x4plus)
FAITHFUL = "waifu2x-photo"
CLEAR = "Upscale, then restore faces with GFPGAN at full strength: crisp, clean faces."
NATURAL = "Upscale, then restore faces with CodeFormer at balanced fidelity: natural skin and identity."
#: offline, each face name keeps its meaning (bench/faces.py --presets): Clear the sharper restorer,
#: Natural the faithful one (closer to the original person, no invented texture)
OFFLINE_CLEAR = ("aligned-realesrgan", "faithful-face")
OFFLINE_NATURAL = ("faithful-face",)
GENERAL = "Real-ESRGAN x4plus: strong detail synthesis for everyday photos."
FIDELITY = "realesr-general-x4v3 with its denoise blend: less hallucination, stays close to the original."
#: offline, the network closest to the truth by bench/fidelity.py (PSNR/SSIM against the originals)
OFFLINE_FIDELITY = (FAITHFUL,)

PRESETS: tuple[Preset, ...] = (
    _face("face_2x", "Face Clear Model 2x", 2, "gfpgan-v1.4", 1.0, 30, CLEAR, OFFLINE_CLEAR),
    _face("face_4x", "Face Clear Model 4x", 4, "gfpgan-v1.4", 1.0, 45, CLEAR, OFFLINE_CLEAR),
    _face("face_v2_2x", "Face Natural Model 2x", 2, "codeformer", 0.5, 30, NATURAL, OFFLINE_NATURAL),
    _face("face_v2_4x", "Face Natural Model 4x", 4, "codeformer", 0.5, 45, NATURAL, OFFLINE_NATURAL),
    _upscale("general_2x", "General Enhance Model 2x", 2, "realesrgan-x4plus", 20, GENERAL),
    _upscale("general_4x", "General Enhance Model 4x", 4, "realesrgan-x4plus", 30, GENERAL),
    _upscale("high_fidelity_2x", "High Fidelity Model 2x", 2, "realesr-general-x4v3", 25, FIDELITY, OFFLINE_FIDELITY),
    _upscale("high_fidelity_4x", "High Fidelity Model 4x", 4, "realesr-general-x4v3", 35, FIDELITY, OFFLINE_FIDELITY),
    Preset(
        name="sharpen_denoise",
        display_name="Sharp Denoise Model",
        summary="Strong denoising followed by deblurring: clean and crisp.",
        steps=(step("denoise", enhancement_level=0.8), step("deblur", strength=1.0)),
        coins=20,
    ),
    Preset(
        name="detail_denoise",
        display_name="Detail Denoise Model",
        summary="Gentle denoising that keeps fine texture.",
        steps=(step("denoise", enhancement_level=0.4),),
        coins=20,
    ),
    Preset(
        name="generative_portrait",
        display_name="Generative Portrait Model",
        summary="2x latent-diffusion upscale, then CodeFormer at low fidelity: the most re-synthesised faces.",
        steps=(_generative(2), step("enhance-face", engine="codeformer", enhancement_level=1.0)),
        coins=75,
    ),
    Preset(
        name="generative",
        display_name="Generative Enhance Model",
        summary="Light denoise, then 4x latent-diffusion upscale: the most invented detail.",
        steps=(step("denoise", enhancement_level=0.3), _generative(4)),
        coins=60,
    ),
)

#: names that spec 002's own examples use although its model table does not list them
ALIASES: dict[str, str] = {"enhanced_v1": "general_4x"}
