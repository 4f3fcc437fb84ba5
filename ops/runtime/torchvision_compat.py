"""Let the CUDA build of torchvision import on CPU-only torch.

The torchvision wheel pinned with torch 2.13.0 is a CUDA build; with the CPU torch its C
extension does not load, and its import dies registering fake kernels for ``torchvision::nms``
and ``qnms``, which then do not exist. spandrel (and transformers, diffusers, segment-anything)
import torchvision, so we define those two operators with a plain CPU implementation first.
Where torchvision's own ops load (a matching build), this does nothing.
"""

from __future__ import annotations

import torch

_LIBRARY: torch.library.Library | None = None


def install() -> None:
    global _LIBRARY
    if _LIBRARY is not None or _has_operator("nms"):
        return
    library = torch.library.Library("torchvision", "DEF")
    for name in ("nms", "qnms"):
        library.define(f"{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        library.impl(name, _nms, "CPU")
    _LIBRARY = library


def _has_operator(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
    except (AttributeError, RuntimeError):
        return False
    return True


def _nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression, as torchvision's CPU kernel: indices kept, best score first."""
    dets = dets.dequantize() if dets.is_quantized else dets
    scores = scores.dequantize() if scores.is_quantized else scores
    order = scores.argsort(descending=True)
    x1, y1, x2, y2 = dets.float().unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for rank, i in enumerate(order.tolist()):
        if suppressed[rank]:
            continue
        keep.append(i)
        rest = order[rank + 1 :]
        w = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        h = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rank + 1 :] |= iou > iou_threshold
    return torch.tensor(keep, dtype=torch.long)
