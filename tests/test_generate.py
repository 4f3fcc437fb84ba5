"""replace-background with a prompt: Stable Diffusion inpainting, run offline with a tiny random pipeline
(the way diffusers tests its pipelines)."""

from __future__ import annotations

import json
from pathlib import Path

import diffusers  # noqa: F401  (pinned: a broken install fails here, loudly, not as a skip)
import numpy as np
import pytest

from ops import chain
from ops.errors import EngineUnavailableError
from ops.imageio import read_image
from ops.runtime.manager import NETWORKS
from ops.weights import entry, snapshots
from tests.conftest import EXAMPLES, SetHost


def tiny_pipeline(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
    for index, letter in enumerate("abcdefghijklmnopqrstuvwxyz"):
        vocab[letter], vocab[f"{letter}</w>"] = 3 + 2 * index, 4 + 2 * index
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=9, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=(2, 4),
    )  # fmt: skip
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 2,
                        up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4)  # fmt: skip
    text = CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                        num_hidden_layers=2, pad_token_id=1, vocab_size=len(vocab) + 8))  # fmt: skip
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)
    pipe = StableDiffusionInpaintPipeline(unet=unet, vae=vae, text_encoder=text, tokenizer=tokenizer, scheduler=DDIMScheduler(),
                                          safety_checker=None, feature_extractor=None, requires_safety_checker=False)  # fmt: skip
    pipe.save_pretrained(folder / "sd-inpainting")
    snapshots.record(entry("sd-inpainting"), folder / "sd-inpainting")  # installed as fetch installs a snapshot


def test_prompt_background_with_a_tiny_random_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    import ops.engines.generate as generate

    tiny_pipeline(tmp_path)
    set_host(checkpoints=tmp_path)
    monkeypatch.setattr(generate, "WORKING_SIDE", 64)
    monkeypatch.setattr(generate, "STEPS", 2)
    NETWORKS.unload()
    picture = read_image(EXAMPLES / "portrait.jpg")
    steps = chain.plan([{"type": "replace-background", "params": {"background_type": "prompt", "background_prompt": "a sunny beach"}}])
    result = chain.run(picture, steps)
    details = result.steps[0].details
    assert details["generator"] == "sd-inpainting" and details["generator_size"] == [64, 64]
    out = result.picture.pixels
    assert out.shape == (512, 512, 3)
    assert np.abs(out[300:340, 200:260].astype(int) - picture.pixels[300:340, 200:260]).mean() < 4  # the subject stays
    assert np.abs(out[40:120, 330:370].astype(int) - picture.pixels[40:120, 330:370]).mean() > 10  # the backdrop is new


def test_without_the_model_the_prompt_fails_clearly_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:

    set_host(checkpoints=tmp_path)
    NETWORKS.unload()
    steps = chain.plan([{"type": "replace-background", "params": {"background_type": "prompt", "background_prompt": "a beach"}}])
    with pytest.raises(EngineUnavailableError, match="python -m ops weights fetch sd-inpainting"):
        chain.run(read_image(EXAMPLES / "portrait.jpg"), steps)


def tiny_ldm(folder: Path) -> None:
    import torch
    from diffusers import DDIMScheduler, LDMSuperResolutionPipeline, UNet2DModel, VQModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=16, in_channels=6, out_channels=3, layers_per_block=1, block_out_channels=(16, 32),
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=8)  # fmt: skip
    vqvae = VQModel(in_channels=3, out_channels=3, latent_channels=3, block_out_channels=(16, 32), norm_num_groups=8,
                    down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)  # fmt: skip
    LDMSuperResolutionPipeline(vqvae=vqvae, unet=unet, scheduler=DDIMScheduler()).save_pretrained(folder / "ldm-sr-4x")
    snapshots.record(entry("ldm-sr-4x"), folder / "ldm-sr-4x")


def test_generative_names_use_latent_diffusion_with_a_tiny_random_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    import ops.engines.diffusion_sr as diffusion_sr

    tiny_ldm(tmp_path)
    set_host(checkpoints=tmp_path)
    monkeypatch.setattr(diffusion_sr, "STEPS", 2)
    monkeypatch.setattr(diffusion_sr, "TILE", 24)
    NETWORKS.unload()
    picture = read_image(EXAMPLES / "cat.jpg")
    small = picture.with_pixels(picture.pixels[:40, :56].copy())
    result = chain.run(small, chain.plan_model("generative"))
    assert [s.engine for s in result.steps][-1] == "ldm-sr-4x" and result.picture.pixels.shape == (160, 224, 3)
    assert result.steps[-1].details["steps"] == 2
    NETWORKS.unload()


def test_without_the_diffusion_weights_generative_names_fail_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_host: SetHost) -> None:
    set_host(checkpoints=tmp_path)
    for name in ("generative", "generative_portrait"):
        with pytest.raises(EngineUnavailableError, match="python -m ops weights fetch ldm-sr-4x"):
            chain.plan_model(name)
