"""Jobs as chains: each step feeds the next, and records what really ran."""

from __future__ import annotations

import numpy as np
import pytest

from ops import chain
from ops.engines import ENGINES, choose
from ops.engines.base import Engine, RunContext
from ops.errors import EngineUnavailableError, ProcessingError
from ops.imageio import Picture, decode
from ops.operation import Operation
from ops.operations.convert import ConvertParams
from ops.pipeline import process
from tests.corpus import jpeg_bytes, photo


def test_steps_feed_each_other_and_are_recorded() -> None:
    steps = chain.plan([
        {"type": "crop-resize", "params": {"crop": {"pixels": [0, 0, 200, 100]}}},
        {"type": "crop-resize", "params": {"resize": {"width": 50}}},
        {"type": "compress-optimize", "params": {"quality": 70}},
    ])
    progress: list[float] = []
    result = chain.run(Picture(photo()), steps, progress=lambda f, m: progress.append(f))
    assert [(s.operation, s.engine) for s in result.steps] == [
        ("crop-resize", "pillow-resample"), ("crop-resize", "pillow-resample"), ("compress-optimize", "pillow-jpeg"),
    ]  # fmt: skip
    assert [s.output_size for s in result.steps] == [(200, 100), (50, 25), (50, 25)]
    assert result.steps[1].input_size == (200, 100)
    assert all(s.seconds >= 0 for s in result.steps)
    assert result.picture.target_format == "jpeg" and result.picture.target_quality == 70
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_compressed_bytes_are_reused_not_encoded_twice() -> None:
    done = process(jpeg_bytes(), chain.plan([{"type": "compress-optimize", "params": {"quality": 50}}]))
    assert done.encoded is done.result.picture.encoded
    # and a later pixel change invalidates them
    again = process(jpeg_bytes(), chain.plan([
        {"type": "compress-optimize", "params": {"quality": 50}},
        {"type": "crop-resize", "params": {"resize": {"width": 10}}},
    ]))
    assert decode(again.encoded.data).width == 10


def test_decoder_notes_are_reported_by_the_first_step() -> None:
    picture = Picture(photo(10, 10), notes=("animated image with 3 frames: only the first frame was used",))
    steps = chain.plan([{"type": "convert", "params": {"output_format": "png"}}] * 2)
    result = chain.run(picture, steps)
    assert result.steps[0].warnings == list(picture.notes) and result.steps[1].warnings == []


class Broken(Engine):
    name = "broken"
    operations = ("convert",)

    def run(self, picture: Picture, params: ConvertParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        raise ZeroDivisionError("boom")


class MissingWeights(Engine):
    name = "needs-weights"
    operations = ("convert",)

    def unavailable_reason(self) -> str | None:
        return "weights missing: run python -m ops weights fetch needs-weights"

    def run(self, picture: Picture, params: ConvertParams, ctx: RunContext) -> Picture:  # type: ignore[override]
        raise AssertionError("must not run")


def fake_operation(*engines: str) -> Operation:
    return Operation(name="convert", summary="", params=ConvertParams, group="Convert", engines=engines, credits=0)


def test_a_crashing_engine_becomes_a_processing_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENGINES, "broken", Broken())
    step = chain.PlannedStep(fake_operation("broken"), ConvertParams(output_format="png"), ENGINES["broken"])
    with pytest.raises(ProcessingError, match="the broken engine failed \\(ZeroDivisionError: boom\\)"):
        chain.run(Picture(np.zeros((2, 2, 3), np.uint8)), [step])


def test_auto_never_falls_back_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENGINES, "needs-weights", MissingWeights())
    choice = choose(fake_operation("needs-weights", "pillow-codecs"))
    assert choice.engine.name == "pillow-codecs"
    assert "weights missing" in choice.warnings[0] and "needs-weights" in choice.warnings[0]
    with pytest.raises(EngineUnavailableError, match="python -m ops weights fetch needs-weights"):
        choose(fake_operation("needs-weights", "pillow-codecs"), "needs-weights")
