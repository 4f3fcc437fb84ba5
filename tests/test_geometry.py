"""Property tests for crop-resize geometry: sizes are exact, boxes are honoured, bounds are checked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops import chain
from ops.engines.crop_resize import crop_box, target_size
from ops.errors import ParamValidationError
from ops.imageio import Picture
from ops.operations.convert import Crop, Resize

sides = st.integers(min_value=1, max_value=5000)


@given(width=sides, height=sides, data=st.data())
def test_pixel_crop_inside_the_image_is_exact(width: int, height: int, data: st.DataObject) -> None:
    x = data.draw(st.integers(0, width - 1))
    y = data.draw(st.integers(0, height - 1))
    w = data.draw(st.integers(1, width - x))
    h = data.draw(st.integers(1, height - y))
    assert crop_box(Crop(pixels=(x, y, w, h)), width, height) == (x, y, x + w, y + h)


@given(width=sides, height=sides, x=st.integers(0, 6000), y=st.integers(0, 6000), w=st.integers(1, 6000), h=st.integers(1, 6000))
def test_pixel_crop_leaving_the_image_is_refused(width: int, height: int, x: int, y: int, w: int, h: int) -> None:
    crop = Crop(pixels=(x, y, w, h))
    if x + w <= width and y + h <= height:
        crop_box(crop, width, height)
    else:
        with pytest.raises(ParamValidationError, match="goes outside"):
            crop_box(crop, width, height)


percent = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(width=sides, height=sides, x=percent, y=percent, data=st.data())
def test_percentage_crop_is_inside_non_empty_and_proportional(width: int, height: int, x: float, y: float, data: st.DataObject) -> None:
    w = data.draw(st.floats(min_value=0.01, max_value=max(0.01, 100 - x)))
    h = data.draw(st.floats(min_value=0.01, max_value=max(0.01, 100 - y)))
    if x + w > 100 or y + h > 100:
        return
    x0, y0, x1, y1 = crop_box(Crop(percentage=(x, y, w, h)), width, height)
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert abs((x1 - x0) - w * width / 100) <= 1.5 and abs((y1 - y0) - h * height / 100) <= 1.5


@given(width=sides, height=sides, tw=st.one_of(st.none(), sides), th=st.one_of(st.none(), sides), keep=st.booleans())
def test_target_size_rules(width: int, height: int, tw: int | None, th: int | None, keep: bool) -> None:
    if tw is None and th is None:
        return
    out_w, out_h = target_size(Resize(width=tw, height=th, maintain_aspect=keep), width, height)
    assert out_w >= 1 and out_h >= 1
    if not keep:
        assert (out_w, out_h) == (tw or width, th or height)
        return
    if tw is not None and th is not None:  # fit inside the box, touching it on one side
        assert out_w <= tw and out_h <= th and (out_w == tw or out_h == th)
    elif tw is not None:
        assert out_w == tw
    else:
        assert out_h == th
    # aspect kept: the derived side is the exact proportional size, rounded (never below one pixel)
    derived_w_ok = abs(out_w - width * out_h / height) <= 0.5 + 1e-9
    derived_h_ok = abs(out_h - height * out_w / width) <= 0.5 + 1e-9
    assert derived_w_ok or derived_h_ok or min(out_w, out_h) == 1


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(1, 300), height=st.integers(1, 300), channels=st.sampled_from([1, 2, 3, 4]),
    deep=st.booleans(), tw=st.integers(1, 400), th=st.integers(1, 400),
)  # fmt: skip
def test_the_engine_produces_exactly_the_planned_size(width: int, height: int, channels: int, deep: bool, tw: int, th: int) -> None:
    dtype = np.uint16 if deep else np.uint8
    picture = Picture(np.zeros((height, width, channels), dtype))
    steps = chain.plan([{"type": "crop-resize", "params": {"resize": {"width": tw, "height": th, "maintain_aspect": False}}}])
    out = chain.run(picture, steps).picture
    assert out.pixels.shape == (th, tw, channels) and out.pixels.dtype == dtype


def test_large_downscale_is_alias_free() -> None:
    """A fine stripe pattern must average to grey, not alias into bands (what naive sampling does)."""
    stripes = np.zeros((2000, 2000, 3), np.uint8)
    stripes[:, ::2] = 255
    steps = chain.plan([{"type": "crop-resize", "params": {"resize": {"width": 100}}}])
    out = chain.run(Picture(stripes), steps).picture.pixels.astype(float)
    assert abs(out.mean() - 127.5) < 2 and out.std() < 2


def test_smooth_upscale_has_no_ringing_overflow() -> None:
    edge = np.zeros((10, 10, 1), np.uint16)
    edge[:, 5:] = 65535
    steps = chain.plan([{"type": "crop-resize", "params": {"resize": {"width": 40}}}])
    out = chain.run(Picture(edge), steps).picture.pixels
    assert out.dtype == np.uint16 and out.min() == 0 and out.max() == 65535
