"""The web UI's door to the service layer: every run and every account action asks it first.

A Gradio handler can be called by anyone who can reach the queue (by ``fn_index`` too), so the
check sits in the handler, not in the page: login on, the signed-in account pays the price and
its tier's limits apply on the same counters as its API keys; login off, model work is limited
per client address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from ops.chain import PlannedStep
from ops.operation import Preset
from ops.run_config import RunConfig
from service.terms import Caller, Price, Refusal, UiRunner

if TYPE_CHECKING:
    from service.layer import Service

#: what a run must pass once its steps are planned; it yields what runs the work (here, or the job queue)
Admission = Callable[[Sequence[PlannedStep]], AbstractContextManager["UiRunner"]]


def address(request: gr.Request | None) -> str:
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "unknown"


class Access:
    def __init__(self, service: Service) -> None:
        self.service = service

    @property
    def login(self) -> bool:
        return self.service.ui_login

    @property
    def run(self) -> RunConfig:
        """How this app's jobs run their networks (the server's settings; planned with every run)."""
        return RunConfig.of(self.service.settings)

    @property
    def results(self) -> Path:
        """Where this app's results are written (the service's data folder: Gradio may serve it)."""
        return self.service.settings.web_results_dir

    def caller(self, request: gr.Request | None) -> Caller:
        with refusals_as_errors():
            return self.service.ui_caller(getattr(request, "username", None), address(request))

    def admission(self, request: gr.Request | None, model: Preset | None = None, model_work: bool | None = None) -> Admission:
        """What a run must pass once its steps are planned: limits, then the price (taken, and
        given back if the run fails)."""

        @contextmanager
        def admit(steps: Sequence[PlannedStep]) -> Iterator[UiRunner]:
            price = Price.of_model(model) if model else Price.of_steps(steps)
            operations = [{"type": s.operation.name, "params": s.params.model_dump(mode="json", exclude_none=True), "engine": s.engine.name} for s in steps]
            heavy = model_work if model_work is not None else any(s.engine.uses_device for s in steps) or not price.free
            with refusals_as_errors(), self.service.ui_run(self.caller(request), price, operations, model.name if model else None, heavy) as run:
                yield run

        return admit

    def selection(self, request: gr.Request | None) -> AbstractContextManager[UiRunner]:
        """Click-to-select runs a segmentation network: free, but model work all the same (a small
        one, run in the web process even in the scale-out mode: a click waits for no queue)."""
        return self.admission(request, model_work=True)([])


@contextmanager
def refusals_as_errors() -> Iterator[None]:
    try:
        yield
    except Refusal as refusal:
        raise gr.Error(refusal.message) from None
