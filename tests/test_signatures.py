"""Face restorers and LaMa on a compiled backend: each adapter calls its network as the network
itself would be called, and the compiled copy stays true to it (random weights, small sizes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from ops.runtime.backends.base import BACKENDS
from ops.runtime.backends.samples import compared, hole, photo_tile
from ops.runtime.backends.selection import psnr
from ops.runtime.signatures import FACE, INPAINTER, FaceInput, FidelityInput, HoleInput
from ops.runtime.torchvision_compat import install

install()
import openvino  # noqa: E402, F401  (pinned in requirements.txt: a broken install fails here, loudly, not as a skip)
from spandrel.architectures.GFPGAN.__arch.gfpganv1_clean_arch import GFPGANv1Clean  # noqa: E402
from spandrel.architectures.LaMa import LaMa  # noqa: E402
from spandrel_extra_arches.architectures.CodeFormer import CodeFormer  # noqa: E402


def test_gfpgan_runs_deterministically_and_its_compiled_copy_matches_it_at_its_one_size(tmp_path: Path) -> None:
    torch.manual_seed(0)
    face = FaceInput(GFPGANv1Clean(out_size=64, num_style_feat=64, channel_multiplier=1).eval())
    signature = dataclasses.replace(FACE, side=64)
    x = photo_tile(signature, 64)
    with torch.inference_mode():
        reference = face(x)
        assert torch.equal(reference, face(x)), "its own noise buffers, not fresh noise: the same face restores the same way"
    compiled = BACKENDS["openvino-f32"].build(face, signature, tmp_path, "gfpgan")
    compiled.prepare([(64, 64)])
    assert compiled.compile_cost([(64, 64)]) == 0.0
    assert psnr(compiled(x), reference) >= 50


def test_codeformer_takes_its_fidelity_weight_as_a_channel_and_zero_still_skips_the_fusion(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = CodeFormer(dim_embd=64, n_head=2, n_layers=1, codebook_size=64).eval()
    signature = dataclasses.replace(FACE, channels=4, extra="fidelity", export=True)
    compiled = BACKENDS["openvino-f32"].build(FidelityInput(net), signature, tmp_path, "codeformer")
    image = photo_tile(FACE, 512)
    own = {}
    for weight in (0.0, 0.7):
        with torch.inference_mode():
            own[weight] = net(image * 2 - 1, weight=weight)[0] * 0.5 + 0.5  # the network's own call, its branch included
        out = compiled(torch.cat([image, torch.full_like(image[:, :1], weight)], 1))
        assert psnr(out, own[weight]) >= 50, weight
    assert (own[0.0] - own[0.7]).abs().max() > 1e-3, "the weight must matter for this check to mean anything"


def test_lama_compiles_once_for_every_crop_shape_and_copies_the_pixels_outside_the_hole(tmp_path: Path) -> None:
    torch.manual_seed(0)
    lama = HoleInput(LaMa(in_nc=4, out_nc=3).eval())
    compiled = BACKENDS["openvino-f32"].build(lama, INPAINTER, tmp_path, "lama")
    compiled.prepare([])
    assert compiled.compile_cost([(1000, 700)]) == 0.0, "no compile left for any shape"
    for side in (64, 96):
        x = photo_tile(INPAINTER, side)
        hole_pixels = compared(INPAINTER, x)
        with torch.inference_mode():
            reference = lama(x)
        out = compiled(x[..., : side - 16, :])  # a crop of another shape runs too
        with torch.inference_mode():
            assert torch.allclose(out, lama(x[..., : side - 16, :]), atol=1e-4)
        out = compiled(x)
        assert psnr(out, reference, hole_pixels) >= 50
        outside = ~hole_pixels.expand_as(out)
        assert torch.equal(out[outside], x[:, :3][outside]), "LaMa pastes its fill into the hole only"
    assert compiled.run.compiled is not None and compiled.compile_cost([(8, 8)]) == 0.0


def test_an_inpainter_is_judged_on_its_fill_only() -> None:
    x = photo_tile(INPAINTER, 64)
    inside = compared(INPAINTER, x)
    assert torch.equal(inside, hole(64).bool()) and inside.float().mean() == 0.25
    wrong_outside = x[:, :3] + 0.3 * (~inside)  # off by 77 levels outside the hole only
    assert psnr(wrong_outside, x[:, :3], inside) == 99.0 and psnr(wrong_outside, x[:, :3]) < 20
    assert compared(FACE, photo_tile(FACE, 64)) is None


def test_calibration_tiles_carry_each_networks_extra_input() -> None:
    fidelity = photo_tile(dataclasses.replace(FACE, channels=4, extra="fidelity"), 32)
    assert fidelity.shape == (1, 4, 32, 32) and torch.all(fidelity[:, 3] == 0.5)
    noise = photo_tile(dataclasses.replace(INPAINTER, extra="noise-level"), 32)
    assert np.isclose(float(noise[:, 3].mean()), 15 / 255)
    face = photo_tile(FACE, 512)
    assert face.shape == (1, 3, 512, 512) and float(face.std()) > 0.05  # the portrait itself, not the synthetic field


def test_ddcolor_runs_compiled_inside_spandrels_own_colour_pipeline(tmp_path: Path) -> None:
    import spandrel
    from spandrel_extra_arches.architectures.DDColor import DDColor

    import ops.runtime.loader  # noqa: F401  (spandrel's extra architectures, DDColor among them)
    from ops.runtime.signatures import adapt

    torch.manual_seed(0)
    net = DDColor(encoder_name="convnext-t", num_queries=8, dec_layers=3, input_size=(64, 64), num_output_channels=2)
    descriptor = spandrel.ModelLoader().load_from_state_dict(net.state_dict())
    adapted = adapt(descriptor)
    assert adapted is not None and adapted.signature.fixed and adapted.signature.grey
    side = adapted.signature.side
    compiled = adapted.outside(BACKENDS["openvino-f32"].build(adapted.module, adapted.signature, tmp_path, "ddcolor"))
    grey = photo_tile(adapted.signature, 96)[:, :1, :80]  # any size: the pipeline resizes to the network's
    with torch.inference_mode():
        reference = descriptor(grey)
    out = compiled(grey)
    assert out.shape == reference.shape == (1, 3, 80, 96) and psnr(out, reference) >= 50
    assert float((reference[:, 0] - reference[:, 2]).abs().mean()) > 1e-3, "colour, not grey: the check means something"
    assert photo_tile(adapted.signature, side)[:, 0].equal(photo_tile(adapted.signature, side)[:, 2])
