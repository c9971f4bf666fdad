"""Properties of the scenario collection as a whole, and how topologies are kept apart."""

from __future__ import annotations

from pathlib import Path

from harness.pytest_plugin import subnet_groups
from harness.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_scenario_names_are_unique_and_match_their_files() -> None:
    names = [load_scenario(path).name for path in SCENARIOS]
    assert len(names) == len(set(names))
    for path, name in zip(SCENARIOS, names, strict=True):
        assert name == path.stem, f"{path.name} is named {name}"


def test_tests_with_overlapping_subnets_share_a_group_and_others_do_not() -> None:
    groups = subnet_groups(
        [
            ("a", ["10.11.12.0/24"]),
            ("b", ["10.11.12.0/24", "10.202.0.0/24"]),
            ("c", ["10.202.0.0/16"]),  # overlaps b's second network: same group as a, by way of b
            ("d", ["10.201.0.0/24"]),
            ("e", ["10.201.0.0/24"]),
            ("f", []),
        ]
    )
    assert groups["a"] == groups["b"] == groups["c"] == "net-10.11.12.0/24"
    assert groups["d"] == groups["e"] == "net-10.201.0.0/24"
    assert "f" not in groups


def test_every_scenario_gets_a_group() -> None:
    items = [(p.stem, [str(n.subnet) for n in load_scenario(p).networks]) for p in SCENARIOS]
    groups = subnet_groups(items)
    assert set(groups) == {p.stem for p in SCENARIOS}


def test_suites_are_parsed_the_same_for_the_cli_the_plugin_and_the_benchmark() -> None:
    import pytest

    from harness.scenario.model import parse_suites

    assert parse_suites(None) == ("bookworm",)
    assert parse_suites(["trixie,bullseye", "trixie"]) == ("trixie", "bullseye")
    assert parse_suites(["all"]) == ("bullseye", "bookworm", "trixie")
    assert parse_suites([" , "]) == ("bookworm",)
    with pytest.raises(ValueError, match="unknown MTA suite 'buster'"):
        parse_suites(["bookworm,buster"])


def test_ipv6_subnets_of_different_scenarios_do_not_overlap() -> None:
    """Topologies are kept apart by their IPv4 subnets; the engine refuses an IPv6 subnet that
    overlaps a running network's too, so no two scenarios may share one."""
    seen: list[tuple[str, str, object]] = []
    for path in SCENARIOS:
        scenario = load_scenario(path)
        for net in scenario.networks:
            if net.subnet6 is None:
                continue
            for name, other_net, other in seen:
                assert name == scenario.name or not net.subnet6.overlaps(other), (scenario.name, other_net, name)
            seen.append((scenario.name, net.name, net.subnet6))
    assert seen, "no scenario has a dual-stack network"
