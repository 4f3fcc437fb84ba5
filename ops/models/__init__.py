"""The model registry: every model declared once as a ``ModelSpec`` (``declarations``); engines ask
for one by name (``model``, ``use``) and get it loaded, verified and on its backend."""

from . import declarations as _declarations  # noqa: F401  (fills MODELS)
from .registry import MODELS, Ready, UnknownModelError, model, spec_of, unavailable_reason, use
from .spec import ModelSpec

__all__ = ["MODELS", "ModelSpec", "Ready", "UnknownModelError", "model", "spec_of", "unavailable_reason", "use"]
