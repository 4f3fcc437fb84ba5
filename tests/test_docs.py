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

    sources = [ROOT / "app.py", *(path for folder in ("ops", "server", "service", "webui") for path in (ROOT / folder).rglob("*.py"))]
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


def _pins(lines: list[str]) -> set[tuple[str, tuple[str, ...], str]]:
    """(canonical name, extras, specifier) of each requirement line; comments and -r lines skipped."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            pins.add((canonicalize_name(req.name), tuple(sorted(req.extras)), str(req.specifier)))
    return pins


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())


RUNTIME_EXTRAS = ("scale-out", "generative", "int8")


def test_requirements_files_list_the_pyproject_pins() -> None:
    """A Space installs requirements.txt, pip install -e . reads pyproject.toml: the same pins."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    assert set(extras) == {*RUNTIME_EXTRAS, "test"}
    runtime = _pins(project["dependencies"] + [line for name in RUNTIME_EXTRAS for line in extras[name]])
    assert _pins((ROOT / "requirements.txt").read_text().splitlines()) == runtime
    assert all(spec.startswith("==") for _, _, spec in runtime), "pin every runtime package exactly"
    # the test extra is the runtime extras (a self-reference) plus what requirements-test.txt adds
    own = [Requirement(line) for line in extras["test"] if canonicalize_name(Requirement(line).name) == canonicalize_name(project["name"])]
    assert len(own) == 1 and own[0].extras == set(RUNTIME_EXTRAS)
    tools = [line for line in extras["test"] if canonicalize_name(Requirement(line).name) != canonicalize_name(project["name"])]
    test_lines = (ROOT / "requirements-test.txt").read_text().splitlines()
    assert "-r requirements.txt" in test_lines
    assert _pins(test_lines) == _pins(tools)
    assert all(spec.startswith("==") for _, _, spec in _pins(tools))


def test_pyproject_matches_the_space_and_finds_every_package() -> None:
    import re

    pyproject = _pyproject()
    head = (ROOT / "README.md").read_text().split("---")[1]
    version = re.search(r'python_version: "([\d.]+)"', head)
    assert version and pyproject["project"]["requires-python"] == f">={version.group(1)}"
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= set(include), f"add to [tool.setuptools.packages.find]: {sorted(packages - set(include))}"
    assert "tests" not in include and "bench" not in include


def test_readme_states_the_recommended_download_as_the_fetch_prints_it() -> None:
    from ops.cli.weights import size_summary
    from ops.weights import load

    manifest = load()
    summary = size_summary([name for name, weights in manifest.items() if weights.recommended], manifest)
    readme = " ".join((ROOT / "README.md").read_text().split())  # line breaks as spaces
    assert f"`{summary}`" in readme, f"the README's fetch recommended total should read: {summary}"
