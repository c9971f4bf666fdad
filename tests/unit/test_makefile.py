"""The Makefile works in a project virtual environment, so a distribution's externally
managed Python (PEP 668) is enough, and says what to install where venv is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)


def test_every_target_uses_the_project_venv_not_the_python_on_path() -> None:
    plan = _make("-n", "test", "lint", "bench", "VENV=/tmp/mh-venv", "PYTHON=/usr/bin/false").stdout
    commands = [
        ln for ln in plan.splitlines() if "echo" not in ln and any(w in ln for w in ("pytest", "mta-harness ", "pip "))
    ]
    assert commands, plan
    for line in commands:
        assert "/tmp/mh-venv/bin/" in line, line
    assert "-m venv /tmp/mh-venv" in plan


def test_a_python_without_venv_gets_the_package_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    # A Python 3.11 whose venv module is missing, as on Debian without python3-venv.
    fake.write_text('#!/bin/sh\n[ "$1" = "-m" ] && { echo "No module named venv" >&2; exit 1; }\nexit 0\n')
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    result = _make("install", f"VENV={venv}", f"PYTHON={fake}")
    assert result.returncode != 0
    assert "apt-get install python3-venv" in result.stderr
    assert not venv.exists(), "a failed venv is removed, so the next run tries again"


def test_a_too_old_python_is_named(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text('#!/bin/sh\n[ "$1" = "-V" ] && { echo "Python 3.8.10"; exit 0; }\nexit 1\n')
    fake.chmod(0o755)
    result = _make("install", f"VENV={tmp_path / 'venv'}", f"PYTHON={fake}")
    assert result.returncode != 0
    assert "needs Python 3.10 or newer" in result.stderr and "3.8.10" in result.stderr
