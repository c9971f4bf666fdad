"""`mta-harness down` takes a scenario's name or its file, as `up` does."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import cli
from harness.core import engine

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"


@pytest.mark.parametrize("given", ["smoke", str(SCENARIO)])
def test_down_removes_the_topologies_of_the_scenario_by_its_name(
    given: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[str | None] = []
    monkeypatch.setattr(engine, "remove_scenario", lambda name: asked.append(name) or ["mh-1-smoke-pf"])
    assert cli.main(["down", given]) == 0
    assert asked == ["smoke"]
    assert "removed 1 container(s)/network(s): mh-1-smoke-pf" in capsys.readouterr().out
