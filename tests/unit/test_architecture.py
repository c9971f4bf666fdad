"""The shape of the code: a kind is one package and one registry line.

No module outside ``harness/kinds/`` compares anything to a kind's name: the core asks a
kind for a capability instead. A kind defined here, in the test, loads and renders without
an edit anywhere else.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import kinds
from harness.errors import ScenarioError
from harness.kinds.base import BASE_TOOLS, Kind, SmtpClient
from harness.render.common import NodeConfig, resolv_conf, start_prelude
from harness.scenario.loader import load_scenario_text
from harness.scenario.model import KindSettings, Node, Scenario
from harness.scenario.reader import Reader
from harness.scenario.source import PathT

HARNESS = Path(__file__).resolve().parents[2] / "harness"


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for element in node.elts for s in _strings(element)]
    return []


def kind_name_comparisons(source: str, names: set[str]) -> list[int]:
    """Lines comparing a value with a kind's name (==, !=, in, not in)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(set(_strings(operand)) & names for operand in operands):
                found.append(node.lineno)
    return found


def test_no_module_outside_the_kinds_compares_with_a_kind_name() -> None:
    names = set(kinds.KINDS)
    offenders = []
    for path in sorted(HARNESS.rglob("*.py")):
        if path.is_relative_to(HARNESS / "kinds"):
            continue
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(HARNESS.parent)}:{line}" for line in kind_name_comparisons(text, names)]
        # the textual form, as a reviewer would grep for it
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"\.kind\s*(==|!=|in|not in)\s*[\(\[\"']", line):
                offenders.append(f"{path.relative_to(HARNESS.parent)}:{number}")
    assert offenders == []


def test_the_check_finds_what_it_is_for() -> None:
    names = {"postfix", "sink"}
    assert kind_name_comparisons("if node.kind == 'postfix': pass", names) == [1]
    assert kind_name_comparisons("x = k in ('client', 'sink')", names) == [1]
    assert kind_name_comparisons("x = kind != 'bind'", names) == []
    assert kind_name_comparisons("x = isinstance(kind, Mta)", names) == []


# ---- a kind defined in this test only ---------------------------------------------------------
@dataclass(frozen=True)
class ToySettings(KindSettings):
    greeting: str = "hello"


class ToyKind(Kind[ToySettings], SmtpClient):
    """A kind the harness has never heard of: settings, a renderer, an image folder."""

    name = "toy"
    settings_key = "toy"
    settings_type = ToySettings
    image = "toy"
    package_dir = Path(__file__).resolve().parent / "toy"
    required_tools = (*BASE_TOOLS, "toyd")

    def parse_settings(self, reader: Reader, path: PathT) -> ToySettings:
        raw = reader.mapping(path, ("greeting",), "toy settings")
        greeting = reader.optional(raw, path, "greeting", lambda p: reader.string(p, "greeting"), "hello")
        if not greeting.isalpha():
            reader.fail((*path, "greeting"), f"greeting '{greeting}' has characters other than letters")
        return ToySettings(greeting)

    def render_settings(self, scenario: Scenario, node: Node, settings: ToySettings) -> NodeConfig:
        files = (
            ("/etc/harness/resolv.conf", resolv_conf(scenario, node), 0o644),
            ("/etc/toy.conf", f"greeting = {settings.greeting}\n", 0o644),
        )
        return NodeConfig(files=files, start=start_prelude() + "toyd &\n", stop="#!/bin/sh\npkill toyd\n")


TOY_SCENARIO = """\
networks:
  lan: {subnet: 10.201.0.0/24}
nodes:
  ns: {kind: bind, hostname: ns.example.test, networks: {lan: 10.201.0.53}}
  t1: {kind: toy, hostname: t1.example.test, networks: {lan: 10.201.0.40}, toy: {greeting: bonjour}}
  mx: {kind: sink, hostname: mx.example.test, networks: {lan: 10.201.0.30}}
dns:
  zones: {example.test: ["@ MX 10 mx"]}
steps:
  - send: {id: m1, from: t1, server: mx, to: bob@example.test}
  - expect_captured: {at: mx, message: m1, peer: t1}
"""


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> ToyKind:
    kind = ToyKind()
    monkeypatch.setitem(kinds.KINDS, kind.name, kind)
    return kind


def test_a_new_kind_needs_only_its_class_and_one_registry_entry(toy: ToyKind) -> None:
    scenario = load_scenario_text(TOY_SCENARIO, "toy.yaml")
    node = scenario.node("t1")
    assert node.settings == ToySettings("bonjour")
    config = kinds.kind_of(node).render(scenario, node)
    assert ("/etc/toy.conf", "greeting = bonjour\n", 0o644) in config.files
    assert dict((p, t) for p, t, _ in config.files)["/etc/harness/resolv.conf"].startswith("nameserver 10.201.0.53")
    # the core asks for capabilities, so the toy, an SMTP client, may start SMTP sessions
    assert [s.action for s in scenario.steps] == ["send", "expect_captured"]


def test_a_new_kinds_settings_errors_name_file_line_and_key(toy: ToyKind) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(TOY_SCENARIO.replace("bonjour", "bon-jour"), "toy.yaml")
    assert str(info.value) == "toy.yaml:5: nodes.t1.toy.greeting: greeting 'bon-jour' has characters other than letters"
    with pytest.raises(ScenarioError, match="'toy' settings do not apply"):
        load_scenario_text(TOY_SCENARIO.replace("kind: sink, hostname", "kind: sink, toy: {}, hostname"), "toy.yaml")


def test_without_its_registry_entry_the_kind_is_unknown() -> None:
    with pytest.raises(ScenarioError, match="unknown node kind 'toy'"):
        load_scenario_text(TOY_SCENARIO.replace(", toy: {greeting: bonjour}", ""), "toy.yaml")
