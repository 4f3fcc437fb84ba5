"""A model name whose preferred engine cannot run here falls back, and says so: a warning naming the
engine, why, and the command that installs it, and ``preferred_engine`` in the step's record."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ops import chain
from ops.imageio import Picture, encode
from ops.pipeline import process
from ops.registry import MODELS
from tests.conftest import EXAMPLES, uninstalled


@pytest.mark.parametrize(("name", "preferred", "weights"), [
    ("high_fidelity_2x", "realesr-general-x4v3", "realesr-general-x4v3"),
    ("general_2x", "realesrgan-x4plus", "realesrgan-x4plus-ncnn"),
    ("face_v2_2x", "codeformer", "codeformer"),
])  # fmt: skip
def test_a_model_name_falls_back_with_a_warning_and_records_its_preferred_engine(monkeypatch: pytest.MonkeyPatch, name: str, preferred: str,
                                                                                 weights: str) -> None:  # fmt: skip
    reason = uninstalled(monkeypatch, preferred, weights)
    index = next(i for i, step in enumerate(MODELS[name].steps) if step["engine"] == preferred)
    planned = chain.plan_model(name)
    step = planned[index]
    assert step.engine.name != preferred and step.preferred == preferred
    said = f"the preferred engine {preferred} cannot run here ({reason}); used {step.engine.name}"
    assert f"python -m ops weights fetch {weights}" in said
    assert said in step.notes
    photo = np.asarray(Image.open(EXAMPLES / "cat.jpg").convert("RGB"))[100:116, 150:166].copy()
    done = process(encode(Picture(photo), "png").data, planned)
    record = done.summary()["steps"][index]  # what a job result, the CLI's --json and the web report are made from
    assert record["engine"] == step.engine.name and record["preferred_engine"] == preferred
    assert said in record["warnings"] and said in done.warnings
    others = [s for i, s in enumerate(done.summary()["steps"]) if i != index]
    assert all(s["preferred_engine"] is None for s in others)


def test_a_model_name_whose_engine_runs_records_no_preference() -> None:
    done = process(encode(Picture(np.full((8, 8, 3), 90, np.uint8)), "png").data, chain.plan_model("general_2x"))
    assert done.summary()["steps"][0]["engine"] == "realesrgan-x4plus" and done.summary()["steps"][0]["preferred_engine"] is None
    assert not any("preferred engine" in w for w in done.warnings)
