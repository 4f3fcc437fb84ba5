"""Settings are passed, not fetched: only the doors that start a process build a ``Settings`` (and
so read the environment); everything below is handed what it needs, the process-wide part through
``ops.host`` and each job's part as a ``RunConfig`` travelling with its planned steps.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, SetHost

#: the entry points: each reads the settings once, as the process starts (Alembic's env.py only
#: for Alembic's own command line; the product hands it a connection)
DOORS = {"app.py", "ops/cli/__init__.py", "server/__main__.py", "server/worker.py", "service/migrations/env.py"}
PACKAGES = ("ops", "server", "service", "webui")


def fetches(source: str) -> list[str]:
    """What in ``source`` reads settings from the process rather than being passed them: building a
    ``Settings``, the old ``get_settings()``, or a look at ``STUDIO_*`` variables in the environment."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else ""
            if name in ("Settings", "get_settings"):
                found.append(f"line {node.lineno}: {name}()")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("STUDIO_") and _in_environment_read(source, node):
            found.append(f"line {node.lineno}: reads {node.value}")
    return found


def _in_environment_read(source: str, node: ast.Constant) -> bool:
    line = source.splitlines()[node.lineno - 1]
    return "environ" in line or "getenv" in line


def below_the_doors() -> list[Path]:
    files = [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))] + [ROOT / "app.py"]
    return [path for path in files if path.relative_to(ROOT).as_posix() not in DOORS and path.name != "settings.py"]


@pytest.mark.parametrize("path", below_the_doors(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_nothing_below_the_doors_fetches_settings(path: Path) -> None:
    assert fetches(path.read_text()) == [], f"{path.relative_to(ROOT)} must be passed its settings (ops.host, RunConfig), not read them"


def test_every_door_exists_and_reads_the_settings_once() -> None:
    for door in DOORS:
        assert len(fetches((ROOT / door).read_text())) == 1, door


@pytest.mark.parametrize(
    "source",
    [
        "from ops.settings import get_settings\nlimit = get_settings().max_bytes\n",
        "from ops import settings\ndef f():\n    return settings.Settings().tile\n",
        "import os\nTILE = int(os.environ.get('STUDIO_TILE', 384))\n",
        "import os\nif os.getenv('STUDIO_INT8'):\n    pass\n",
    ],
)
def test_the_rule_catches_each_kind_of_fetch(source: str) -> None:
    assert fetches(source) != []


def test_the_rule_lets_passed_settings_through() -> None:
    assert fetches("def create(settings: Settings) -> None:\n    limit = settings.max_bytes\n") == []
    assert fetches("from ops.host import host\nlimit = host().max_bytes  # STUDIO_MAX_BYTES\n") == []


def test_two_jobs_in_one_process_run_with_their_own_configuration() -> None:
    """The tile size and the work limit are the job's: one job is refused, the other in the same
    process runs, and each is tiled as its own configuration says."""
    from ops import chain
    from ops.errors import WorkLimitError
    from ops.imageio import Picture
    from ops.run_config import RunConfig

    picture = Picture(np.random.default_rng(0).integers(0, 255, (96, 128, 3), np.uint8))
    job = [{"type": "enhance", "params": {"scale": 2}, "engine": "realesr-animevideov3"}]
    tiles: dict[int, list[str]] = {}
    for tile in (0, 32):
        messages: list[str] = []
        chain.run(picture, chain.plan(job, run=RunConfig(tile=tile)), progress=lambda _f, m, seen=messages: seen.append(m))
        tiles[tile] = [m for m in messages if "tile" in m]
    assert len(tiles[0]) <= 1 < len(tiles[32]), tiles
    with pytest.raises(WorkLimitError):
        chain.run(picture, chain.plan(job, run=RunConfig(max_job_seconds=1e-6)))


def test_a_server_governs_its_process_with_the_settings_it_was_given(tmp_path: Path, set_host: SetHost) -> None:
    """``create_app(settings)`` hands the process-wide part to ``ops.host``: the image limits the
    decoder applies are the server's, not the environment's."""
    from ops.errors import ImageTooLargeError
    from ops.host import host
    from ops.imageio import Picture, decode, encode
    from ops.settings import Settings
    from server.app import create_app

    data = encode(Picture(np.zeros((20, 30, 3), np.uint8)), "png").data
    decode(data)
    create_app(Settings(data_dir=tmp_path, max_pixels=100))
    assert host().max_pixels == 100 and host().data_dir == tmp_path
    with pytest.raises(ImageTooLargeError, match="STUDIO_MAX_PIXELS"):
        decode(data)
