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
