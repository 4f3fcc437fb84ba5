"""The page as a person uses it, in headless Chromium: a free and a model operation, then a screenshot.

Needs Debian's chromium (installed by .ci/run; skipped, saying so, without it) and the playwright package (pinned).
The screenshot is written to $STUDIO_ARTIFACTS (default: the test's temp folder) as ui-result.png.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright import sync_api as playwright  # pinned in requirements-test.txt: a broken install fails loudly

from tests.conftest import EXAMPLES
from tests.server_harness import LiveServer, start

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("ui"), with_ui=True, tile=32)  # several tiles for a small picture
    yield server
    server.stop()


def visible_file_input(page):  # noqa: ANN001, ANN201
    inputs = page.locator("input[type=file]")
    for index in range(inputs.count()):
        candidate = inputs.nth(index)
        if candidate.evaluate("e => e.closest('.block') && e.closest('.block').offsetParent !== null"):
            return candidate
    raise AssertionError("no visible file input")


def upload(page, path: Path) -> None:  # noqa: ANN001
    """Choose a file and wait until the page shows it (clicking Run before that would send nothing)."""
    field = visible_file_input(page)
    block = field.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' block ')][1]")
    field.set_input_files(str(path))
    block.locator("img").first.wait_for(state="visible", timeout=30_000)


def open_tab(page, group: str, operation: str) -> None:  # noqa: ANN001
    page.get_by_role("tab", name=group, exact=True).click()
    page.get_by_role("tab", name=operation, exact=True).click()


def run_and_wait(page, button: str) -> str:  # noqa: ANN001
    page.get_by_role("button", name=button, exact=True).click()
    report = page.locator("li", has_text="ran on engine").locator("visible=true").first
    report.wait_for(state="visible", timeout=120_000)
    return report.inner_text()


@pytest.fixture
def page(live: LiveServer) -> Iterator:
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1100})
        tab.goto(live.url, wait_until="load")
        tab.get_by_role("tab", name="Convert", exact=True).wait_for(timeout=60_000)
        yield tab
        browser.close()


def pixels(element) -> np.ndarray:  # noqa: ANN001
    return np.asarray(Image.open(io.BytesIO(element.screenshot())).convert("RGB")).astype(int)


def near(shot: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> np.ndarray:
    return (np.abs(shot - np.array(colour)) <= tolerance).all(axis=2)


def test_a_clicked_object_is_painted_where_it_is_in_the_mask_editor(page, tmp_path: Path) -> None:  # noqa: ANN001
    """The editor draws the click-selected mask over the object (it once drew it down and to the right)."""
    blue, red, magenta = (48, 96, 192), (220, 40, 30), (255, 0, 255)
    picture = np.zeros((320, 480, 3), np.uint8)
    picture[:] = blue
    yy, xx = np.mgrid[:320, :480]
    disk = (xx - 330) ** 2 + (yy - 200) ** 2 < 60**2  # off-centre, so an offset shows
    picture[disk] = red
    Image.fromarray(picture).save(tmp_path / "disk.png")
    open_tab(page, "Retouch", "Remove object")
    upload(page, tmp_path / "disk.png")
    editor = page.locator(".block", has_text="Paint over what to remove").locator("visible=true").last
    source = page.locator(".block", has_text="Input image").locator("img").locator("visible=true").first
    box = source.bounding_box()
    source.click(position={"x": box["width"] * 330 / 480, "y": box["height"] * 200 / 320})
    for _ in range(120):  # the selection runs a segmenter; the editor redraws when it returns
        shot = pixels(editor)
        if near(shot, magenta, 10).sum() > 500:
            break
        time.sleep(0.5)
    canvas = near(shot, blue) | near(shot, red) | near(shot, magenta, 10)
    rows, cols = np.nonzero(near(shot, blue))  # the blue picture surrounds the disk: its box is the image's
    top, left, bottom, right = rows.min(), cols.min(), rows.max() + 1, cols.max() + 1
    drawn = near(shot, magenta, 10)[top:bottom, left:right]
    expected = np.asarray(Image.fromarray(disk).resize((right - left, bottom - top), Image.Resampling.NEAREST))
    overlap = (drawn & expected).sum() / max((drawn | expected).sum(), 1)
    assert canvas[top:bottom, left:right].mean() > 0.95, "the picture is not where the editor shows it"
    assert overlap > 0.85, f"the mask is drawn away from the object (IoU {overlap:.2f})"


def test_upscaling_shows_per_tile_progress(page, tmp_path: Path) -> None:  # noqa: ANN001
    small = tmp_path / "small.png"
    Image.open(EXAMPLES / "cat.jpg").crop((100, 60, 228, 156)).save(small)  # 128x96: several tiles of 32
    open_tab(page, "Enhance", "Upscale photo")
    upload(page, small)
    page.get_by_role("button", name="Run: Upscale photo", exact=True).click()
    seen: set[str] = set()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not page.locator("li", has_text="ran on engine").locator("visible=true").count():
        seen |= set(re.findall(r"tile \d+/\d+", page.locator("body").inner_text()))
        time.sleep(0.2)
    assert len(seen) >= 2, f"per-tile progress was not shown (saw {sorted(seen)})"


GROUPS = ("Enhance", "Faces & Restore", "Background", "Retouch", "Convert", "Models", "Settings")
LABELS = "() => [...document.querySelectorAll('[data-testid=block-info], .info-text, [role=tab], label, button')].map(e => e.textContent.trim())"


def test_every_tab_speaks_in_words_not_parameter_names(page) -> None:  # noqa: ANN001
    words: set[str] = set()
    for group in GROUPS:
        page.get_by_role("tab", name=group, exact=True).click()
        for sub in [t for t in page.get_by_role("tab").locator("visible=true").all_inner_texts() if t not in GROUPS]:
            page.get_by_role("tab", name=sub, exact=True).locator("visible=true").click()
            words |= {w for w in page.evaluate(LABELS) if w}
    assert {"Paint over what to remove", "Find text automatically", "New background"} <= words  # every tab was seen
    api_names = sorted(w for w in words if re.search(r"\b[a-z]+_[a-z_]+\b|\(optional\)|^[a-z]+(-[a-z]+)+$", w))
    assert not api_names, f"labels that are parameter names: {api_names}"


def test_a_free_and_a_model_operation_in_the_browser(live: LiveServer, tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    Image.open(EXAMPLES / "cat.jpg").crop((150, 80, 214, 128)).save(small)
    artifacts = Path(os.environ.get("STUDIO_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(live.url, wait_until="load")
        page.get_by_role("tab", name="Convert", exact=True).wait_for(timeout=60_000)
        for tab in ("Enhance", "Faces & Restore", "Background", "Retouch", "Convert", "Models", "Settings"):
            assert page.get_by_role("tab", name=tab, exact=True).is_visible()
        open_tab(page, "Convert", "Change format")
        upload(page, EXAMPLES / "cup.jpg")
        assert "pillow-codecs" in run_and_wait(page, "Run: Change format")
        open_tab(page, "Enhance", "Upscale photo")
        upload(page, small)
        text = run_and_wait(page, "Run: Upscale photo")
        assert "realesrgan-x4plus" in text and "64x48 → 128x96" in page.content()
        page.locator("img").last.wait_for(state="visible")
        shot = artifacts / "ui-result.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert Image.open(shot).size[0] == 1400

