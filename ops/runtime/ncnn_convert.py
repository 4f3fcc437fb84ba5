"""Convert Real-ESRGAN ncnn models (.param + .bin) into PyTorch state dicts.

The package registry carries Real-ESRGAN only in ncnn form; mapped layer by layer onto the
standard architectures (RRDBNet, SRVGGNetCompact, in the official basicsr key names) the
weights load strictly and reproduce ncnn's output. Format: ``.param`` is text (magic 7767517,
layer/blob counts, one line per layer with ``k=v`` params); ``.bin`` holds per weighted layer,
in ``.param`` order, a 4-byte tag (0x01306B47: fp16 follows; 0: fp32) and the weights, then the
bias as raw fp32; PReLU slopes are raw fp32.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MAGIC = 7767517
TAG_FP16 = 0x01306B47
TAG_FP32 = 0


@dataclass(frozen=True)
class Layer:
    kind: str
    name: str
    params: dict[int, str]


def parse_param(text: str) -> list[Layer]:
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or int(lines[0][0]) != MAGIC:
        raise ValueError("not an ncnn .param file (bad magic)")
    layers = []
    for fields in lines[2:]:
        kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
        params = {}
        for item in fields[4 + n_in + n_out :]:
            key, _, value = item.partition("=")
            params[int(key)] = value
        layers.append(Layer(kind, name, params))
    return layers


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def raw_fp32(self, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, np.float32, count, self.offset)
        self.offset += 4 * count
        return out

    def tagged(self, count: int) -> np.ndarray:
        (tag,) = struct.unpack_from("<I", self.data, self.offset)
        self.offset += 4
        if tag == TAG_FP16:
            out = np.frombuffer(self.data, np.float16, count, self.offset).astype(np.float32)
            self.offset += (2 * count + 3) // 4 * 4
            return out
        if tag == TAG_FP32:
            return self.raw_fp32(count)
        raise ValueError(f"unsupported ncnn weight storage tag {tag:#x}")


def read_weights(layers: list[Layer], data: bytes) -> list[tuple[str, list[np.ndarray]]]:
    """(layer kind, tensors) for every weighted layer, in file order."""
    reader = _Reader(data)
    out: list[tuple[str, list[np.ndarray]]] = []
    for layer in layers:
        if layer.kind == "Convolution":
            outputs, kernel, size = int(layer.params[0]), int(layer.params[1]), int(layer.params[6])
            weight = reader.tagged(size).reshape(outputs, size // (outputs * kernel * kernel), kernel, kernel)
            tensors = [weight]
            if int(layer.params.get(5, 0)):
                tensors.append(reader.raw_fp32(outputs))
            out.append(("conv", tensors))
        elif layer.kind == "Deconvolution":  # ncnn keeps (out, in, kh, kw); PyTorch's transposed conv wants (in, out, kh, kw)
            outputs, kernel, size = int(layer.params[0]), int(layer.params[1]), int(layer.params[6])
            weight = reader.tagged(size).reshape(outputs, size // (outputs * kernel * kernel), kernel, kernel).transpose(1, 0, 2, 3)
            tensors = [weight] + ([reader.raw_fp32(outputs)] if int(layer.params.get(5, 0)) else [])
            out.append(("deconv", tensors))
        elif layer.kind == "PReLU":
            out.append(("prelu", [reader.raw_fp32(int(layer.params.get(0, 1)))]))
        elif layer.kind in ("InnerProduct", "BatchNorm", "Scale", "ConvolutionDepthWise"):
            raise ValueError(f"layer type {layer.kind} is not part of the supported architectures")
    if reader.offset != len(data):
        raise ValueError(f".bin has {len(data) - reader.offset} unread bytes: the .param does not describe it")
    return out


def rrdb_keys(blocks: int) -> list[str]:
    keys = ["conv_first"]
    for b in range(blocks):
        keys += [f"body.{b}.rdb{r}.conv{c}" for r in (1, 2, 3) for c in range(1, 6)]
    return keys + ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]


def read(param_path: Path, bin_path: Path) -> list[tuple[str, list[np.ndarray]]]:
    return read_weights(parse_param(Path(param_path).read_text()), Path(bin_path).read_bytes())


def convert(param_path: Path, bin_path: Path) -> dict[str, torch.Tensor]:
    """A Real-ESRGAN state dict in the official key names (loadable by spandrel, strict)."""
    weighted = read(param_path, bin_path)
    kinds = [kind for kind, _ in weighted]
    if "prelu" in kinds:  # SRVGGNetCompact: body.0 conv, body.1 prelu, ..., last conv
        prefixes = [f"body.{i}" for i in range(len(weighted))]
    else:
        blocks, rest = divmod(len(weighted) - 6, 15)
        if rest:
            raise ValueError(f"{len(weighted)} convolutions do not form an RRDBNet")
        prefixes = rrdb_keys(blocks)
    state: dict[str, torch.Tensor] = {}
    for prefix, (_, tensors) in zip(prefixes, weighted, strict=True):
        state[f"{prefix}.weight"] = torch.from_numpy(tensors[0].copy())
        if len(tensors) > 1:
            state[f"{prefix}.bias"] = torch.from_numpy(tensors[1].copy())
    return state
