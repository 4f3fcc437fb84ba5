"""diffusers pipelines from a verified hub snapshot, fp16 on CUDA; their UNet's FLOPs per latent
pixel are counted on a small probe as they load, for the job-seconds check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..spec import Built, Loader, Request

PROBE = 8  # latent pixels a side: every UNet here downsamples at most 8x


@dataclass(frozen=True)
class DiffusersPipeline(Loader):
    kind = "diffusers"
    pipeline: str  # the diffusers class, e.g. "StableDiffusionInpaintPipeline"
    options: dict[str, Any] = field(default_factory=dict)  # for from_pretrained

    def load(self, request: Request) -> Built:
        import torch

        from ...runtime.device import device, half_precision
        from ...runtime.torchvision_compat import install

        install()
        import diffusers

        dtype = torch.float16 if half_precision(request.spec.precision.half) else torch.float32
        pipe = getattr(diffusers, self.pipeline).from_pretrained(str(request.files.folder), torch_dtype=dtype, **self.options)
        pipe.set_progress_bar_config(disable=True)
        pipe = pipe.to(device())
        return Built(pipe, f"torch-{'fp16' if dtype == torch.float16 else 'fp32'}", flops_per_pixel=unet_flops(pipe.unet))


def unet_flops(unet: Any) -> float:
    """FLOPs of one UNet call per latent pixel (convolutions and linear layers; a lower bound)."""
    import torch

    from ...runtime.loader import count_flops

    config, options = unet.config, {}
    sample = torch.zeros(1, config.in_channels, PROBE, PROBE, device=unet.device, dtype=unet.dtype)
    if getattr(config, "cross_attention_dim", None):
        options["encoder_hidden_states"] = torch.zeros(1, 77, config.cross_attention_dim, device=unet.device, dtype=unet.dtype)
    return count_flops(unet, lambda: unet(sample, 1, **options)) / PROBE**2
