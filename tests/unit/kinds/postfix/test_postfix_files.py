"""A user's own main.cf (``files:``) on a Postfix node: what it sets, which of the harness's
parameters are applied over it and which yield to it, and the list of what was overridden."""

from __future__ import annotations

from pathlib import Path

from harness.kinds import kind_of
from harness.kinds.postfix import maincf
from harness.render.common import NodeConfig
from harness.scenario.loader import load_scenario
from harness.scenario.model import Scenario

SCENARIO = Path(__file__).parents[4] / "scenarios" / "own-config-postfix.yaml"

MAIN_CF = """\
# comment = not a setting
myhostname = mail.prod.example
mynetworks = 127.0.0.0/8
    10.0.0.0/8
  192.168.0.0/16
relayhost=[smarthost.prod.example]:587
smtp_connect_timeout = 30s
smtp_connect_timeout = 60s
"""


def test_main_cf_is_read_as_postfix_reads_it() -> None:
    settings = maincf.parse(MAIN_CF)
    assert settings["myhostname"] == maincf.Setting("myhostname", "mail.prod.example", 2)
    assert settings["mynetworks"] == maincf.Setting("mynetworks", "127.0.0.0/8 10.0.0.0/8 192.168.0.0/16", 3)
    assert settings["relayhost"].value == "[smarthost.prod.example]:587"
    assert settings["smtp_connect_timeout"] == maincf.Setting("smtp_connect_timeout", "60s", 8)  # the last wins
    assert "comment" not in settings


def test_overrides_name_the_file_line_old_and_new_value_and_who() -> None:
    final = [
        ("myhostname", "pf.example.test"),
        ("mynetworks", "127.0.0.0/8 10.0.0.0/8 192.168.0.0/16"),
        ("relayhost", ""),
    ]
    assert maincf.overrides(maincf.parse(MAIN_CF), final, {"relayhost"}, "files/prod-main.cf") == [
        "/etc/postfix/main.cf (files/prod-main.cf:2): myhostname = mail.prod.example overridden by the harness: pf.example.test",
        "/etc/postfix/main.cf (files/prod-main.cf:6): relayhost = [smarthost.prod.example]:587 overridden by the scenario's postfix.main: ",
    ]


def rendered() -> tuple[Scenario, NodeConfig]:
    scenario = load_scenario(SCENARIO)
    node = scenario.node("pf")
    return scenario, kind_of(node).render(scenario, node)


def test_the_topology_needs_are_applied_the_production_choices_kept() -> None:
    _, config = rendered()
    postconf = next(c for c in config.setup if c.what.startswith("set main.cf parameters")).argv
    applied = dict(a.split("=", 1) for a in postconf[2:])
    assert applied["myhostname"] == "pf.prod.example"
    assert applied["inet_interfaces"] == "all" and applied["inet_protocols"] == "ipv4"
    assert applied["maillog_file"] == "/var/log/mail.log" and applied["smtp_connect_timeout"] == "5s"
    for kept in ("mynetworks", "mydestination", "relayhost", "myorigin", "compatibility_level", "alias_maps"):
        assert kept not in applied, kept  # the user's main.cf sets it: the harness's default yields


def test_the_overrides_are_listed() -> None:
    _, config = rendered()
    source = "files/own-config-postfix/main.cf"
    assert config.notes == (
        f"/etc/postfix/main.cf ({source}:14): myhostname = mail.prod.example overridden by the harness: pf.prod.example",
        f"/etc/postfix/main.cf ({source}:24): inet_interfaces = loopback-only overridden by the harness: all",
        f"/etc/postfix/main.cf ({source}:25): inet_protocols = all overridden by the harness: ipv4",
        f"/etc/postfix/main.cf ({source}:32): smtp_connect_timeout = 30s overridden by the harness: 5s",
    )


def test_the_users_files_are_placed_and_read_before_postconf_changes_main_cf() -> None:
    _, config = rendered()
    placed = {path: content for path, content, _ in config.files}
    assert placed["/etc/postfix/main.cf"].startswith("# /etc/postfix/main.cf of mail.prod.example")
    assert "REJECT Looks like invoice fraud" in placed["/etc/postfix/header_checks"]
    steps = [c.what for c in config.setup]
    assert steps.index("read the user's main.cf (files/own-config-postfix/main.cf)") < steps.index(
        "set main.cf parameters (postconf -e)"
    )
    assert "read the user's table regexp:/etc/postfix/header_checks" in steps


def test_without_a_users_main_cf_nothing_is_listed() -> None:
    scenario = load_scenario(Path(__file__).parents[2] / "scenarios" / "good" / "every_key.yaml")
    node = scenario.node("pf")
    config = kind_of(node).render(scenario, node)
    assert config.notes == ()
    assert not any(c.what.startswith("read the user's main.cf") for c in config.setup)
