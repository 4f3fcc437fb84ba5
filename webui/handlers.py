"""Gradio handlers that take their inputs by name.

Gradio calls a handler with the inputs' values by position and inserts the request and the
progress tracker where the handler's signature has them. A handler written as ``*values`` that
counts positions itself is shifted by one as soon as an input (a ``gr.State``) follows the
injected arguments; here the signature Gradio reads is the one the call is bound with.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

T = TypeVar("T")
POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


def by_name(names: list[str], body: Callable[[dict[str, Any], gr.Request | None, gr.Progress | None], T]) -> Callable[..., T]:
    """A handler for inputs called ``names`` (in the event's input order) that calls
    ``body({name: value}, request, progress)``; a call with other arguments is refused in words."""
    if len(set(names)) != len(names) or {"request", "progress"} & set(names):
        raise ValueError(f"input names must be unique and not request/progress: {names}")
    parameters = [inspect.Parameter(name, POSITIONAL) for name in names]
    parameters.append(inspect.Parameter("request", POSITIONAL, annotation=gr.Request))
    parameters.append(inspect.Parameter("progress", POSITIONAL, default=gr.Progress()))
    signature = inspect.Signature(parameters)

    def handler(*args: Any, **kwargs: Any) -> T:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            raise gr.Error(f"This endpoint takes {len(names)} inputs: {', '.join(names)}.") from None
        values = dict(bound.arguments)
        return body(values, values.pop("request", None), values.pop("progress", None))

    handler.__signature__ = signature  # type: ignore[attr-defined]
    handler.__annotations__ = {"request": gr.Request}
    handler.__name__ = getattr(body, "__name__", "handler")
    return handler
