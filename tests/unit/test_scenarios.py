"""Properties of the scenario collection as a whole."""

from __future__ import annotations

import itertools
from pathlib import Path

from harness.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
# Subnets of hand-written topology tests (tests/topology), which run beside the scenarios.
TEST_SUBNETS = {"tests/topology/test_cleanup.py": "10.209.0.0/24", "tests/topology/test_own_image.py": "10.208.0.0/24"}


def test_scenario_names_are_unique_and_match_their_files() -> None:
    names = [load_scenario(path).name for path in SCENARIOS]
    assert len(names) == len(set(names))
    for path, name in zip(SCENARIOS, names):
        assert name == path.stem, f"{path.name} is named {name}"


def test_scenarios_use_disjoint_subnets() -> None:
    """Topologies run in parallel: two scenarios sharing a subnet could not be up at once."""
    import ipaddress

    nets = [(path.name, net.subnet) for path in SCENARIOS for net in load_scenario(path).networks]
    nets += [(name, ipaddress.IPv4Network(subnet)) for name, subnet in TEST_SUBNETS.items()]
    clashes = [
        f"{a} {na} overlaps {b} {nb}" for (a, na), (b, nb) in itertools.combinations(nets, 2) if a != b and na.overlaps(nb)
    ]
    assert clashes == []
