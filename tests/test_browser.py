"""The page as a person uses it, in headless Chromium: a free and a model operation, then a screenshot.

Needs Debian's chromium (installed by .ci/run) and the playwright package; skipped without them.
The screenshot is written to $STUDIO_ARTIFACTS (default: the test's temp folder) as ui-result.png.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import EXAMPLES
from tests.server_harness import LiveServer, start

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start(tmp_path_factory.mktemp("ui"), with_ui=True)
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

