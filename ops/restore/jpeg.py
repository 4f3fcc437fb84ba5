"""Is a JPEG visibly blocky: pixel steps across the 8x8 block grid compared with steps inside it.

A clean photo's steps are the same everywhere; heavy compression makes the grid's columns and
rows stand out. The ratio (boundary mean over interior mean, horizontal and vertical together)
is about 1 for clean pictures and grows with the blocking.
"""

from __future__ import annotations

import numpy as np

VISIBLE = 1.25  # from which ratio blocking shows at normal viewing


def blockiness(luma: np.ndarray) -> float:
    """Boundary-to-interior step ratio of a float luminance image (any range)."""
    steps = []
    for axis in (1, 0):
        diff = np.abs(np.diff(luma.astype(np.float32), axis=axis))
        position = np.arange(diff.shape[axis]) % 8
        boundary = np.take(diff, np.flatnonzero(position == 7), axis=axis)
        inside = np.take(diff, np.flatnonzero(position != 7), axis=axis)
        steps.append((float(boundary.mean()), float(inside.mean())))
    return sum(b for b, _ in steps) / max(sum(i for _, i in steps), 1e-6)
