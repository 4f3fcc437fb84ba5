"""``python -m server``: users, tiers and balances, API keys and web-UI passwords, in a temporary
STUDIO_DATA_DIR (the commands in-process for speed, and once as the real command line)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from server.__main__ import main
from service.accounts import authenticate, check_password
from service.db import ApiKey, Database, User
from tests.conftest import ROOT


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STUDIO_DATABASE_URL", raising=False)
    return tmp_path


def server(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``python -m server ARGV``."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def database(data_dir: Path) -> Database:
    return Database(f"sqlite:///{data_dir / 'studio.db'}")


def test_users_set_user_and_set_password(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert server(capsys, "add-user", "ann@example.com", "--tier", "pro", "--credits", "5")[0] == 0
    assert server(capsys, "add-user", "bob@example.com")[0] == 0
    status, out, _ = server(capsys, "users")
    lines = out.splitlines()
    assert status == 0 and len(lines) == 2
    assert re.search(r"ann@example\.com\s+pro\s+credits=5 coins=0", lines[0]) and re.search(r"bob@example\.com\s+pro\s+credits=0", lines[1])  # pro: the command's default

    status, out, _ = server(capsys, "set-user", "ann@example.com", "--tier", "business", "--coins", "40")
    assert status == 0 and out.strip() == "ann@example.com: tier=business credits=5 coins=40"  # credits left as they were
    status, _, err = server(capsys, "set-user", "ann@example.com", "--credits", "-3")
    assert status == 1 and err.startswith("error:")
    status, _, err = server(capsys, "set-user", "nobody@example.com", "--credits", "3")
    assert status == 1 and "no user nobody@example.com" in err
    with database(data_dir).session() as session:
        ann = session.scalar(select(User).where(User.email == "ann@example.com"))
        assert (ann.tier, ann.credits, ann.coins) == ("business", 5, 40)

    status, out, _ = server(capsys, "set-password", "ann@example.com", "--password", "correct horse battery")
    assert status == 0 and out.strip() == "password set"
    with database(data_dir).session() as session:
        assert check_password(session, "ann@example.com", "correct horse battery")
        assert not check_password(session, "ann@example.com", "wrong")
        assert not check_password(session, "bob@example.com", "correct horse battery")


def test_keys_are_listed_and_revoked(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server(capsys, "add-user", "ann@example.com", "--tier", "pro")
    status, out, _ = server(capsys, "add-key", "ann@example.com", "--name", "laptop")
    key, note = out.splitlines()
    key_id = re.search(r"key id (\S+);", note).group(1)
    server(capsys, "add-key", "ann@example.com", "--name", "ci")
    with database(data_dir).session() as session:
        assert authenticate(session, key).email == "ann@example.com"

    status, out, _ = server(capsys, "keys", "ann@example.com")
    listed = out.splitlines()
    assert status == 0 and len(listed) == 2
    laptop = next(line for line in listed if "laptop" in line)
    assert laptop.startswith(key_id) and f"{key[:12]}…" in laptop and "active" in laptop and "last used" in laptop
    assert key not in out  # only its prefix: the key is stored as a hash

    status, out, _ = server(capsys, "revoke-key", "ann@example.com", key_id)
    assert status == 0 and out.strip() == "revoked"
    status, out, _ = server(capsys, "keys", "ann@example.com")
    assert re.search(r"laptop\s+revoked \d{4}-\d\d-\d\d", out) and re.search(r"ci\s+active", out)
    with database(data_dir).session() as session:
        assert authenticate(session, key) is None
        assert session.scalar(select(ApiKey).where(ApiKey.id == key_id)).revoked_at is not None
    status, _, err = server(capsys, "revoke-key", "ann@example.com", key_id)  # twice: nothing to revoke
    assert status == 1 and "no such active key" in err
    server(capsys, "add-user", "bob@example.com", "--tier", "pro")
    other = server(capsys, "add-key", "bob@example.com")[1].splitlines()[1]
    status, _, err = server(capsys, "revoke-key", "ann@example.com", re.search(r"key id (\S+);", other).group(1))
    assert status == 1 and "no such active key" in err  # another user's key is not hers to revoke


def test_the_command_line_itself(data_dir: Path) -> None:
    env = {**os.environ, "STUDIO_DATA_DIR": str(data_dir)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "server", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert run("add-user", "cli@example.com", "--tier", "pro").returncode == 0
    assert run("set-password", "cli@example.com", "--password", "from the shell").stdout.strip() == "password set"
    users = run("users")
    assert users.returncode == 0 and "cli@example.com" in users.stdout
    refused = run("keys", "ghost@example.com")
    assert refused.returncode == 1 and "no user ghost@example.com" in refused.stderr
    assert run("set-user", "cli@example.com", "--tier", "nonsense").returncode == 2  # argparse: not a tier
