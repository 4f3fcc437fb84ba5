"""Every parameter rule of spec 000, checked against the declarations (and the spec's own table)."""

from __future__ import annotations

import base64

import pytest

from ops import chain
from ops.errors import EngineNotImplementedError, ParamValidationError
from ops.registry import MODELS, OPERATIONS
from ops.schema import fields_of

# The spec-000 table, transcribed: operation -> parameter names (nested ones dotted).
SPEC_TABLE = {
    "enhance": {"scale"},
    "enhance-anime": set(),
    "enhance-face": {"enhancement_level"},
    "denoise": {"enhancement_level"},
    "deblur": {"strength"},
    "restore-old-photo": {"face_enhancement_level", "auto_repair_damage", "color_boost", "enable_colorization", "colorization_strength"},
    "remove-background": {"output_format"},
    "replace-background": {"background_type", "background_color", "background_image_key", "background_prompt"},
    "blur-background": {"blur_radius", "output_format"},
    "smart-crop": {"aspect_ratio", "padding_percent"},
    "remove-object": {"mask_data_url"},
    "remove-text": {"auto_detect", "mask_data_url"},
    "compress-optimize": {"quality"},
    "crop-resize": {"crop", "resize", "crop.pixels", "crop.percentage", "resize.width", "resize.height", "resize.maintain_aspect"},
    "convert": {"output_format", "quality"},
}
SPEC_RANGES = {
    ("enhance-face", "enhancement_level"): (0.0, 1.0),
    ("denoise", "enhancement_level"): (0.0, 1.0),
    ("deblur", "strength"): (0.5, 1.5),
    ("restore-old-photo", "face_enhancement_level"): (0.0, 1.0),
    ("restore-old-photo", "color_boost"): (1.0, 2.0),
    ("restore-old-photo", "colorization_strength"): (0.0, 1.0),
    ("blur-background", "blur_radius"): (1, 100),
    ("smart-crop", "padding_percent"): (0, 30),
    ("compress-optimize", "quality"): (1, 100),
    ("convert", "quality"): (1, 100),
}
SPEC_ENUMS = {
    ("enhance", "scale"): (2, 4, 8),
    ("remove-background", "output_format"): ("png", "jpg"),
    ("replace-background", "background_type"): ("color", "image", "transparent", "prompt"),
    ("blur-background", "output_format"): ("png", "jpg"),
    ("smart-crop", "aspect_ratio"): ("1:1", "4:3", "16:9", "9:16", "3:2", "2:3"),
    ("convert", "output_format"): ("png", "jpg", "jpeg", "webp"),
}
MASK = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake but well-formed base64").decode()
MINIMAL = {
    "enhance": {"scale": 2},
    "replace-background": {"background_type": "transparent"},
    "remove-object": {"mask_data_url": MASK},
    "crop-resize": {"resize": {"width": 10}},
    "convert": {"output_format": "png"},
}
FREE = {"compress-optimize", "crop-resize", "convert"}


def names(op_name: str) -> set[str]:
    out = set()
    for f in fields_of(OPERATIONS[op_name].params):
        out.add(f.name)
        out |= {f"{f.name}.{c.name}" for c in f.children}
    return out


def problems(op_name: str, params: object) -> list[str]:
    with pytest.raises(ParamValidationError) as info:
        OPERATIONS[op_name].validate(params)
    return [str(v) for v in info.value.violations]


def test_all_fifteen_operations_with_the_spec_parameter_names() -> None:
    assert list(OPERATIONS) == list(SPEC_TABLE)
    for name, expected in SPEC_TABLE.items():
        assert names(name) == expected, name


@pytest.mark.parametrize("name", list(SPEC_TABLE))
def test_minimal_params_are_valid_and_unknown_keys_are_not(name: str) -> None:
    OPERATIONS[name].validate(MINIMAL.get(name, {}))
    assert any("unknown parameter" in p for p in problems(name, {**MINIMAL.get(name, {}), "bogus": 1}))


@pytest.mark.parametrize(("key", "bounds"), list(SPEC_RANGES.items()), ids=lambda v: str(v))
def test_ranges_are_inclusive_and_enforced(key: tuple[str, str], bounds: tuple[float, float]) -> None:
    op, field = key
    low, high = bounds
    step = 1 if isinstance(low, int) else 0.01
    for ok in (low, high, (low + high) / 2 if step != 1 else (low + high) // 2):
        OPERATIONS[op].validate({**MINIMAL.get(op, {}), field: ok})
    for bad in (low - step, high + step):
        assert any(p.startswith(field) for p in problems(op, {**MINIMAL.get(op, {}), field: bad})), (op, field, bad)


@pytest.mark.parametrize(("key", "choices"), list(SPEC_ENUMS.items()), ids=lambda v: str(v))
def test_enums_accept_exactly_the_spec_values(key: tuple[str, str], choices: tuple[object, ...]) -> None:
    op, field = key
    spec = next(f for f in fields_of(OPERATIONS[op].params) if f.name == field)
    assert spec.choices == choices
    extra = {"background_color": "#000000", "background_image_key": "k", "background_prompt": "p"}
    for choice in choices:
        base = {**MINIMAL.get(op, {}), **(extra if op == "replace-background" else {})}
        OPERATIONS[op].validate({**base, field: choice})
    assert any(p.startswith(field) for p in problems(op, {**MINIMAL.get(op, {}), field: "nonsense"}))


def test_required_parameters() -> None:
    assert problems("enhance", {}) == ["scale: Field required"]
    assert problems("convert", {}) == ["output_format: Field required"]
    assert problems("replace-background", {}) == ["background_type: Field required"]
    assert problems("remove-object", {}) == ["mask_data_url: Field required"]


def test_defaults() -> None:
    assert OPERATIONS["compress-optimize"].validate({}).quality == 85
    assert OPERATIONS["remove-text"].validate({}).auto_detect is True
    assert OPERATIONS["crop-resize"].validate({"resize": {"width": 5}}).resize.maintain_aspect is True


@pytest.mark.parametrize(
    ("background_type", "needs"),
    [("color", "background_color"), ("image", "background_image_key"), ("prompt", "background_prompt")],
)
def test_replace_background_requires_the_field_of_its_type(background_type: str, needs: str) -> None:
    assert problems("replace-background", {"background_type": background_type}) == [
        f"{needs}: required when background_type is '{background_type}'"
    ]


def test_background_color_must_be_hex() -> None:
    for bad in ("red", "#12345", "#1234567", "123456", "#GG0000"):
        assert problems("replace-background", {"background_type": "color", "background_color": bad})[0].startswith("background_color")
    OPERATIONS["replace-background"].validate({"background_type": "color", "background_color": "#A0b1C2"})


def test_remove_text_mask_required_only_without_auto_detect() -> None:
    OPERATIONS["remove-text"].validate({})
    OPERATIONS["remove-text"].validate({"auto_detect": False, "mask_data_url": MASK})
    assert problems("remove-text", {"auto_detect": False}) == ["mask_data_url: required when auto_detect is false"]


def test_mask_must_be_a_base64_data_url() -> None:
    for bad in ("https://example.com/mask.png", "data:text/plain;base64,aGk=", "data:image/png,rawtext", "data:image/png;base64,@@@"):
        assert problems("remove-object", {"mask_data_url": bad})[0].startswith("mask_data_url")


def test_crop_resize_needs_crop_or_resize() -> None:
    assert problems("crop-resize", {}) == ["at least one of crop, resize is required"]
    assert problems("crop-resize", {"resize": {"maintain_aspect": False}}) == ["resize: at least one of width, height is required"]


def test_crop_takes_exactly_one_of_pixels_or_percentage() -> None:
    both = {"crop": {"pixels": [0, 0, 1, 1], "percentage": [0, 0, 50, 50]}}
    assert problems("crop-resize", both) == ["crop: exactly one of pixels, percentage is required (got 2)"]
    assert problems("crop-resize", {"crop": {}}) == ["crop: exactly one of pixels, percentage is required (got 0)"]


def test_crop_boxes_are_checked() -> None:
    assert problems("crop-resize", {"crop": {"pixels": [-1, 0, 0, 5]}}) == [
        "crop.pixels[0]: Input should be greater than or equal to 0",
        "crop.pixels[2]: Input should be greater than 0",
    ]
    assert problems("crop-resize", {"crop": {"pixels": [0, 0, 5]}})[0].startswith("crop.pixels")
    assert problems("crop-resize", {"crop": {"percentage": [60, 0, 50, 10]}}) == [
        "crop.percentage: the box must stay inside the image: x + w and y + h must be at most 100"
    ]
    assert problems("crop-resize", {"crop": {"percentage": [0, 0, 0, 10]}})[0].startswith("crop.percentage[2]")


def test_every_violation_is_reported_at_once() -> None:
    found = problems(
        "crop-resize",
        {"crop": {"pixels": [0, 0, 0, 0], "percentage": [0, 0, 10, 10]}, "resize": {"width": 0}, "extra": True},
    )
    assert len(found) >= 5, found
    assert {p.split(":")[0] for p in found} >= {"crop.pixels[2]", "crop.pixels[3]", "resize.width", "extra", "crop"}


def test_a_job_reports_every_bad_step_with_its_position() -> None:
    steps = [
        {"type": "enhance", "params": {"scale": 3}},
        {"type": "sharpen"},
        {"type": "convert", "params": {"quality": 101}},
    ]
    with pytest.raises(ParamValidationError) as info:
        chain.plan(steps)
    where = [v.location for v in info.value.violations]
    assert where == ["operations[0].params.scale", "operations[1].type", "operations[2].params.output_format", "operations[2].params.quality"]
    assert info.value.http_status == 422


def test_costs_free_operations_and_scaled_enhance() -> None:
    assert {name for name, op in OPERATIONS.items() if op.free} == FREE
    enhance = OPERATIONS["enhance"]
    assert [enhance.cost(enhance.validate({"scale": s})) for s in (2, 4, 8)] == [1, 2, 4]
    for name, op in OPERATIONS.items():
        if name not in FREE:
            assert op.cost(op.validate(MINIMAL.get(name, {}))) > 0


def test_operations_without_engines_yet_raise_a_typed_error() -> None:
    from ops.engines import choose
    from ops.operation import Operation
    from ops.params import Params

    planned = Operation(name="future-op", summary="s", params=Params, group="Retouch", engines=("not-built-yet",))
    with pytest.raises(EngineNotImplementedError, match="future-op is not available in this release yet"):
        choose(planned)


def test_an_engine_that_cannot_run_says_why_and_auto_falls_back_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.engines import ENGINES, choose
    from ops.errors import EngineUnavailableError
    from ops.registry import get_operation

    enhance = get_operation("enhance")
    best, second = (ENGINES[name] for name in enhance.engines[:2])
    monkeypatch.setattr(type(best), "unavailable_reason", lambda self: "weights missing" if self is best else None)
    choice = choose(enhance)
    assert choice.engine is not best and "better engines cannot run here: realesrgan-x4plus (weights missing)" in choice.warnings[0]
    with pytest.raises(EngineUnavailableError, match="weights missing"):
        choose(enhance, "realesrgan-x4plus")


def test_unknown_engine_is_a_parameter_error() -> None:
    with pytest.raises(ParamValidationError, match="operations\\[0\\].engine: unknown engine 'magic'"):
        chain.plan([{"type": "convert", "params": {"output_format": "png"}, "engine": "magic"}])


SPEC_002_MODELS = [
    "face_2x", "face_4x", "face_v2_2x", "face_v2_4x", "general_2x", "general_4x",
    "high_fidelity_2x", "high_fidelity_4x", "sharpen_denoise", "detail_denoise", "generative_portrait", "generative",
]  # fmt: skip


def test_the_twelve_model_names_are_valid_chains() -> None:
    assert list(MODELS) == SPEC_002_MODELS
    for preset in MODELS.values():
        assert preset.coins > 0 and preset.steps
        for step in preset.steps:
            op = OPERATIONS[step["type"]]
            op.validate(step["params"])
            assert step["engine"] == "auto" or step["engine"] in op.engines
