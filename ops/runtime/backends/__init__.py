"""Ways to run one network on the CPU, and the choice between them made by measurement.

Each backend turns a PyTorch module into a callable on NCHW float tensors; ``choose`` times every
available backend on a calibration tile of a real photo, keeps those whose output stays within
the bar of plain fp32 PyTorch (PSNR, in 8-bit RGB), and picks the fastest. The verdict is cached
per machine (CPU flags, library versions) and per weights file, so it is measured once.
"""

from .base import Backend, BACKENDS, Compiled
from .selection import Choice, choose

__all__ = ["BACKENDS", "Backend", "Choice", "Compiled", "choose"]
