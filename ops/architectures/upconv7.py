"""waifu2x UpConv7 (photo models): six unpadded 3x3 convolutions with LeakyReLU(0.1), then a
4x4 transposed convolution (stride 2, padding 3). The output is twice the input less 7 pixels
on each side, so the input is padded by 7 first. Its JPEG-noise variants (levels 0-3) remove
compression artefacts while doubling the size."""

from __future__ import annotations

import torch
from torch import nn

WIDTHS = (3, 16, 32, 64, 128, 128, 256)
BORDER = 7  # input pixels lost on each side


class UpConv7(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index in range(6):
            layers += [nn.Conv2d(WIDTHS[index], WIDTHS[index + 1], 3), nn.LeakyReLU(0.1, inplace=True)]
        self.body = nn.Sequential(*layers)
        self.up = nn.ConvTranspose2d(256, 3, 4, stride=2, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W in [0, 1] -> N x 3 x 2H x 2W."""
        return self.up(self.body(nn.functional.pad(x, (BORDER,) * 4, mode="replicate")))


def state_from_ncnn(weighted: list[tuple[str, list]]) -> dict[str, torch.Tensor]:
    """Map ncnn's layers (six convolutions, one deconvolution) onto this module's keys."""
    keys = [f"body.{2 * i}" for i in range(6)] + ["up"]
    state = {}
    for key, (_, tensors) in zip(keys, weighted, strict=True):
        state[f"{key}.weight"], state[f"{key}.bias"] = torch.from_numpy(tensors[0].copy()), torch.from_numpy(tensors[1].copy())
    return state
