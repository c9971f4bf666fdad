"""What Postfix's rendered files say (``golden/``, kept by ``tests/unit/test_render.py``),
checked as a mail administrator would."""

from __future__ import annotations

from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def golden(scenario_name: str, node_name: str, relative: str) -> str:
    return (GOLDEN / scenario_name / node_name / relative).read_text(encoding="utf-8")


def test_main_cf_settings_put_the_scenarios_values_last() -> None:
    settings = dict(
        line.split(" = ", 1) for line in golden("every-key", "pf", "etc/harness/main.cf.settings").splitlines()
    )
    assert settings["myhostname"] == "pf.example.test"
    assert settings["mydomain"] == "example.test"
    assert settings["relayhost"] == "[sm.example.test]"  # the scenario wins over the harness default ""
    assert settings["compatibility_level"] == "3.6"
    assert settings["transport_maps"] == "hash:/etc/postfix/transport"
    assert settings["smtp_connect_timeout"] == "5s"
    commands = golden("every-key", "pf", "commands.txt")
    assert "postmap hash:/etc/postfix/transport" in commands
    assert "postmap cidr:" not in commands  # cidr tables are read as text
    assert "0o640 /etc/postfix/clients.cidr" not in commands and "0o644 /etc/postfix/clients.cidr" in commands
    assert golden("every-key", "pf", "etc/harness/master.cf.append").startswith("2525      inet  n")


def chroot_render(mode: str) -> tuple[list[str], str]:
    from harness.kinds.postfix.render import render
    from harness.kinds.postfix.settings import PostfixSettings
    from harness.scenario.loader import load_scenario_text

    text = (
        "networks: {lan: {subnet: 10.201.0.0/24}}\n"
        "nodes: {pf: {kind: postfix, hostname: pf.example.test, networks: {lan: 10.201.0.10}}}\n"
    )
    scenario = load_scenario_text(text, "chroot.yaml")
    config = render(scenario, scenario.node("pf"), PostfixSettings(chroot=mode))
    return [c.what for c in config.setup], config.start


def test_the_chroot_is_filled_at_start_as_debian_does_unless_told_otherwise() -> None:
    setup, start = chroot_render("as_shipped")
    # bullseye/bookworm: the service start's configure-instance.sh; trixie: post-install does it
    assert (
        "grep -q configure-instance /usr/lib/postfix/sbin/post-install || /usr/lib/postfix/configure-instance.sh -\n"
        in start
    )
    assert start.index("configure-instance") < start.index("postfix start")
    assert not any("chroot" in what for what in setup)
    setup, start = chroot_render("off")
    assert "chroot off for every service" in setup
    setup, start = chroot_render("no_copy")
    assert "configure-instance.sh -" not in start
    assert setup.index("never fill the chroot (SYNC_CHROOT= in /etc/default/postfix)") < setup.index("postfix check")
