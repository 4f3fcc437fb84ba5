"""The README's install step: the strong engines wherever their hosts answer, the registry set always."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.cli import weights as cli
from ops.weights import Weights, load


def test_offline_setup_installs_the_registry_set_and_says_in_one_line_what_it_left_out(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fetched: list[str] = []
    monkeypatch.setattr(cli, "fetch", lambda weights: fetched.append(weights.name))
    monkeypatch.setattr(cli, "installed", lambda weights: False)
    manifest = load()
    assert cli.setup(manifest, answers=lambda host: False) == 0
    assert set(fetched) == {n for n, w in manifest.items() if w.from_registry}  # nothing else was tried
    said = [line for line in capsys.readouterr().out.splitlines() if "recommended weights not installed" in line]
    assert len(said) == 1 and "gfpgan-v1.4" in said[0] and "fetch recommended" in said[0]


def test_online_setup_lists_sizes_then_installs_the_recommended_weights(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fetched: list[str] = []
    monkeypatch.setattr(cli, "fetch", lambda weights: fetched.append(weights.name))
    monkeypatch.setattr(cli, "installed", lambda weights: weights.from_registry)  # the registry set is already here
    manifest = load()
    answering = {"github.com"}
    assert cli.setup(manifest, answers=lambda host: host in answering) == 0
    from_github = {n for n, w in manifest.items() if w.recommended and cli.source_host(w) == "github.com"}
    assert from_github and set(fetched) == from_github
    out = capsys.readouterr().out
    listing = next(line for line in out.splitlines() if line.startswith(f"installing {len(from_github)}: "))
    assert "gfpgan-v1.4 (348.6 MB)" in listing  # each size said before the first byte
    assert "did not answer" in out and "github.com" not in out.split("did not answer")[0].rpartition(":")[2]


def test_a_failed_recommended_download_does_not_fail_the_setup(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from ops.weights import FetchError

    def broken(weights: Weights) -> list[Path]:
        raise FetchError(f"{weights.name}: download failed")

    monkeypatch.setattr(cli, "fetch", broken)
    monkeypatch.setattr(cli, "installed", lambda weights: weights.from_registry)
    assert cli.setup(load(), answers=lambda host: True) == 0
    assert "run the same command again to resume" in capsys.readouterr().out
