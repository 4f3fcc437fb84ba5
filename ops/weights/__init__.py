"""The checkpoint manager: a manifest of weight files, where they are, and how to install them."""

from .fetch import FetchError, fetch
from .manifest import WeightFile, Weights, entry, load
from .source import WeightsSource
from .store import MissingWeightsError, find, installed, require

__all__ = ["FetchError", "MissingWeightsError", "Weights", "WeightFile", "WeightsSource", "entry", "fetch", "find", "installed", "load", "require"]
