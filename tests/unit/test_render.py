"""Rendered configuration against golden files.

Every file rendered for every node of a scenario is stored beside the tests of the node's
kind, under ``kinds/<kind>/golden/<scenario>/<node>/``, at the path it gets inside the
container (``etc/bind/harness/remote.test.zone``), with the setup commands and start/stop
scripts in ``commands.txt`` there. A change in rendering shows up as a diff of files a mail
administrator can read; what they say is checked by each kind's ``test_<kind>_render.py``.
After an intended change, rewrite them all and review the diff:

    UPDATE_GOLDEN=1 python -m pytest tests/unit/test_render.py

No Docker needed.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest

from harness.kinds import kind_of
from harness.render.common import NodeConfig
from harness.scenario.loader import load_scenario
from harness.scenario.model import Node, Scenario

HERE = Path(__file__).parent
REPO = HERE.parent.parent
KINDS_TESTS = HERE / "kinds"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

SCENARIOS = {
    "every-key": HERE / "scenarios" / "good" / "every_key.yaml",
    "smoke": REPO / "scenarios" / "smoke.yaml",
}

COMMANDS_FILE = "commands.txt"


def rendered_files(config: NodeConfig) -> dict[str, str]:
    """Golden-relative path -> text: every rendered file, plus the commands and scripts."""
    files = {path.lstrip("/"): text for path, text, _mode in config.files}
    modes = "".join(f"{oct(mode)} {path}\n" for path, _text, mode in config.files)
    setup = "".join(f"# {c.what}\n{shlex.join(c.argv)}\n" for c in config.setup)
    files[COMMANDS_FILE] = (
        f"## file modes\n{modes}\n## setup\n{setup}\n## start\n{config.start}\n## stop\n{config.stop}"
    )
    return files


def golden_cases() -> list[tuple[str, str]]:
    return [(name, node.name) for name, path in SCENARIOS.items() for node in load_scenario(path).nodes]


def node_of(scenario: Scenario, name: str) -> Node:
    return next(node for node in scenario.nodes if node.name == name)


def golden_folder(scenario_name: str, node: Node) -> Path:
    """Where a node's golden files are: beside its kind's tests."""
    return KINDS_TESTS / kind_of(node).name / "golden" / scenario_name / node.name


@pytest.mark.parametrize(("scenario_name", "node_name"), golden_cases())
def test_rendered_files_match_the_golden_files(scenario_name: str, node_name: str) -> None:
    scenario = load_scenario(SCENARIOS[scenario_name])
    node = node_of(scenario, node_name)
    rendered = rendered_files(kind_of(node).render(scenario, node))
    folder = golden_folder(scenario_name, node)
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        for relative, text in rendered.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text, encoding="utf-8")
    stored = {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()}
    assert sorted(rendered) == sorted(stored), f"rendered files differ from {folder} (UPDATE_GOLDEN=1 rewrites)"
    for relative, text in rendered.items():
        assert text == stored[relative], f"{relative} differs from {folder / relative} (UPDATE_GOLDEN=1 rewrites)"


def test_every_golden_folder_is_a_rendered_node() -> None:
    expected = set()
    for name, path in SCENARIOS.items():
        for node in load_scenario(path).nodes:
            expected.add(golden_folder(name, node).relative_to(KINDS_TESTS))
    stored = {p.relative_to(KINDS_TESTS) for p in KINDS_TESTS.glob("*/golden/*/*") if p.is_dir()}
    assert stored == expected, "a golden folder is left of a node that is gone or changed kind: remove it"


# --- what the golden files say across kinds ---------------------------------------------------


def golden(scenario_name: str, node_name: str, relative: str) -> str:
    scenario = load_scenario(SCENARIOS[scenario_name])
    return (golden_folder(scenario_name, node_of(scenario, node_name)) / relative).read_text(encoding="utf-8")


def test_resolv_conf_points_at_bind_on_a_shared_network() -> None:
    assert golden("every-key", "mx", "etc/harness/resolv.conf").startswith("nameserver 10.202.0.53\n")
    assert golden("every-key", "pf", "etc/harness/resolv.conf").startswith("nameserver 10.201.0.53\n")
    assert golden("every-key", "ns", "etc/harness/resolv.conf").startswith("nameserver 127.0.0.1\n")
