"""The README's operation tables are generated from the registry and must match it."""

from __future__ import annotations

from ops.cli import listing
from tests.conftest import ROOT


def test_readme_operation_tables_are_current() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- operations -->")[1].split("<!-- /operations -->")[0].strip()
    assert block == listing.markdown(), "run: python -m ops list --markdown, and paste it into README.md"


def test_readme_settings_table_is_current() -> None:
    from ops.settings import markdown_table

    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- settings -->")[1].split("<!-- /settings -->")[0].strip()
    assert block == markdown_table(), "run: python -m ops settings, and paste it into README.md"


def test_only_the_settings_module_reads_the_environment() -> None:
    import re

    sources = [ROOT / "app.py", *(path for folder in ("ops", "server", "webui") for path in (ROOT / folder).rglob("*.py"))]
    offenders = [str(p.relative_to(ROOT)) for p in sources if p.name != "settings.py" and re.search(r"os\.environ|getenv\(", p.read_text())]
    assert offenders == []


def test_readme_weights_table_is_current() -> None:
    from ops.cli.weights import markdown

    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- weights -->")[1].split("<!-- /weights -->")[0].strip()
    assert block == markdown(), "run: python -m ops weights --markdown, and paste it into README.md"


def test_readme_declares_a_gradio_space() -> None:
    head = (ROOT / "README.md").read_text().split("---")[1]
    assert "sdk: gradio" in head and "app_file: app.py" in head
    assert 'python_version: "3.11"' in head  # a Space otherwise runs an older Python, which ops refuses
