"""Rendered configuration against golden files, and raw sendmail.cf lines put in place.

Every file rendered for every node of a scenario is stored under ``golden/<scenario>/<node>/``
at the path it gets inside the container (``etc/bind/harness/remote.test.zone``), with the
setup commands and start/stop scripts in ``golden/<scenario>/<node>/commands.txt``. A change
in rendering shows up as a diff of files a mail administrator can read. After an intended
change, rewrite them and review the diff:

    UPDATE_GOLDEN=1 python -m pytest tests/unit/test_render.py

No Docker needed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest

from harness.kinds import kind_of
from harness.kinds.sendmail import render as sendmail
from harness.render.common import NodeConfig
from harness.scenario.loader import load_scenario
from harness.scenario.model import Node, Scenario

HERE = Path(__file__).parent
REPO = HERE.parent.parent
GOLDEN = HERE / "golden"
CF_FIXTURES = HERE / "data" / "sendmail"
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


@pytest.mark.parametrize(("scenario_name", "node_name"), golden_cases())
def test_rendered_files_match_the_golden_files(scenario_name: str, node_name: str) -> None:
    scenario = load_scenario(SCENARIOS[scenario_name])
    node = node_of(scenario, node_name)
    rendered = rendered_files(kind_of(node).render(scenario, node))
    folder = GOLDEN / scenario_name / node_name
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        for relative, text in rendered.items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text, encoding="utf-8")
    stored = {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()}
    assert sorted(rendered) == sorted(stored), f"rendered files differ from {folder} (UPDATE_GOLDEN=1 rewrites)"
    for relative, text in rendered.items():
        assert text == stored[relative], f"{relative} differs from {folder / relative} (UPDATE_GOLDEN=1 rewrites)"


# --- what the golden files say, checked as a mail administrator would -------------------------


def golden(scenario_name: str, node_name: str, relative: str) -> str:
    return (GOLDEN / scenario_name / node_name / relative).read_text(encoding="utf-8")


def test_zone_files_have_soa_ns_and_host_records() -> None:
    zone = golden("every-key", "ns", "etc/bind/harness/example.test.zone")
    lines = zone.splitlines()
    assert lines[:4] == [
        "$ORIGIN example.test.",
        "$TTL 60",
        "@ IN SOA ns.example.test. hostmaster.ns.example.test. 1 3600 600 86400 60",
        "@ IN NS ns.example.test.",
    ]
    assert "@ IN MX 10 pf" in lines
    assert "smtp 300 IN CNAME pf" in lines
    # every node whose hostname is in the zone gets an A record for its first address
    for host, ip in (("ns", "10.201.0.53"), ("pf", "10.201.0.10"), ("sm", "10.201.0.11"), ("cl", "10.201.0.5")):
        assert f"{host}.example.test. IN A {ip}  ; host record of node {host}" in lines
    remote = golden("every-key", "ns", "etc/bind/harness/remote.test.zone")
    assert "mx.remote.test. IN A 10.202.0.30  ; host record of node mx" in remote
    assert "@ IN MX 10 mx" in remote
    root = golden("every-key", "ns", "etc/bind/harness/root.zone").splitlines()
    assert root[0] == "$ORIGIN ."
    assert "ns.example.test. IN A 10.201.0.53" in root


def test_named_conf_declares_every_zone_and_the_policies() -> None:
    conf = golden("every-key", "ns", "etc/bind/named.conf")
    for origin, file in (
        (".", "root.zone"),
        ("example.test.", "example.test.zone"),
        ("remote.test.", "remote.test.zone"),
        ("0.201.10.in-addr.arpa.", "0.201.10.in-addr.arpa.zone"),
        ("rpz.harness.", "rpz.harness.zone"),
    ):
        assert f'zone "{origin}" {{ type master; file "/etc/bind/harness/{file}"; }};' in conf
    assert 'zone "broken.test." { type master; file "/etc/bind/harness/servfail.missing"; };' in conf
    assert 'response-policy { zone "rpz.harness"; }' in conf
    assert "listen-on-v6 { none; };" in conf and "querylog yes;" in conf
    rpz = golden("every-key", "ns", "etc/bind/harness/rpz.harness.zone")
    assert "gone.test.rpz.harness. CNAME ." in rpz
    assert "nomx.test.rpz.harness. CNAME *." in rpz
    assert "slow.test.rpz.harness. CNAME rpz-drop." in rpz
    assert "broken.test" not in rpz  # servfail is an unloadable zone, not a policy
    smoke = golden("smoke", "ns", "etc/bind/named.conf")
    assert "response-policy" not in smoke and "servfail" not in smoke


def test_the_mc_file_reads_like_debians_with_the_scenarios_lines() -> None:
    mc = golden("every-key", "sm", "etc/mail/harness.mc").splitlines()
    for line in (
        "OSTYPE(`debian')dnl",
        "DOMAIN(`debian-mta')dnl",
        "DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr=0.0.0.0')dnl",
        "FEATURE(`no_default_msa')dnl",
        "FEATURE(`use_cw_file')dnl",
        "FEATURE(`access_db', `hash -T<TMPF> /etc/mail/access')dnl",
        "FEATURE(`mailertable')dnl",
        "define(`SMART_HOST', `[mx.remote.test]')dnl",
        "define(`confLOG_LEVEL', `9')dnl",
        "undefine(`confHOST_STATUS_DIRECTORY')dnl",
        "define(`confMAX_MESSAGE_SIZE', `10485760')dnl",
        # a value the scenario quoted itself (it has a comma) is quoted once more, as m4 needs
        "define(`confPRIVACY_FLAGS', ``authwarnings,novrfy'')dnl",
        "MAILER(`local')dnl",
        "MAILER(`smtp')dnl",
    ):
        assert line in mc, f"{line!r} missing from the .mc"
    assert mc.index("include(`/usr/share/sendmail/cf/m4/cf.m4')dnl") < mc.index("OSTYPE(`debian')dnl")
    assert mc.index("MAILER(`local')dnl") > mc.index("FEATURE(`mailertable')dnl")
    assert mc.count("FEATURE(`access_db', `hash -T<TMPF> /etc/mail/access')dnl") == 1  # not added twice
    # smoke's sendmail listens on every address, and has no features of its own
    smoke = golden("smoke", "sm", "etc/mail/harness.mc")
    assert "dnl --- features" not in smoke
    assert re.search(r"^DAEMON_OPTIONS\(`Family=inet, Name=MTA-v4, Port=smtp, Addr=[\d.]+'\)dnl$", smoke, re.M)
    assert golden("every-key", "sm", "etc/mail/access") == "Connect:10.201.0\tRELAY\nFrom:spammer@bad.test\tREJECT\n"
    assert golden("every-key", "sm", "etc/mail/mailertable") == "remote.test\tesmtp:[mx.remote.test]\n"


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
    commands = golden("every-key", "pf", COMMANDS_FILE)
    assert "postmap hash:/etc/postfix/transport" in commands
    assert "postmap cidr:" not in commands  # cidr tables are read as text
    assert "0o640 /etc/postfix/clients.cidr" not in commands and "0o644 /etc/postfix/clients.cidr" in commands
    assert golden("every-key", "pf", "etc/harness/master.cf.append").startswith("2525      inet  n")


def test_sink_json_carries_auth_and_replies() -> None:
    import json

    config = json.loads(golden("every-key", "mx", "etc/harness/sink.json"))
    assert config["ports"] == [25, 587]
    assert config["auth"] == {
        "required": False,
        "mechanisms": ["PLAIN"],
        "users": {"relayuser": "secret"},
        "require_tls": False,
    }
    assert config["replies"][0] == {"command": "rcpt", "code": 450, "text": "4.2.0 greylisted", "match": "greylist@"}
    assert config["replies"][1]["command"] == "data" and config["replies"][1]["code"] == 552
    assert json.loads(golden("smoke", "mx", "etc/harness/sink.json"))["auth"] is None
    # a client runs no sink
    assert not (GOLDEN / "every-key" / "cl" / "etc" / "harness" / "sink.json").exists()


def test_resolv_conf_points_at_bind_on_a_shared_network() -> None:
    assert golden("every-key", "mx", "etc/harness/resolv.conf").startswith("nameserver 10.202.0.53\n")
    assert golden("every-key", "pf", "etc/harness/resolv.conf").startswith("nameserver 10.201.0.53\n")
    assert golden("every-key", "ns", "etc/harness/resolv.conf").startswith("nameserver 127.0.0.1\n")


# --- raw sendmail.cf lines --------------------------------------------------------------------


@pytest.fixture(params=sorted(p.name for p in CF_FIXTURES.glob("*-sendmail.cf")))
def real_cf(request: pytest.FixtureRequest) -> str:
    """sendmail.cf as the harness's m4 build produced it in a real container, per version."""
    name: str = request.param
    return (CF_FIXTURES / name).read_text(encoding="utf-8")


def test_the_real_cf_has_the_lines_raw_cf_lines_replace(real_cf: str) -> None:
    lines = real_cf.splitlines()
    assert "DS" in lines  # no smart host: an empty DS line
    assert any(line.startswith("#O FallbackSmartHost=") for line in lines)
    assert any(re.match(r"^S\S", line) for line in lines)


def test_a_ds_line_replaces_the_generated_one(real_cf: str) -> None:
    result = sendmail.apply_cf_lines(real_cf, ("DS[10.11.12.13]",)).splitlines()
    assert "DS[10.11.12.13]" in result
    assert "DS" not in result
    assert len(result) == len(real_cf.splitlines())
    assert [line for line in result if line.startswith("DS")] == ["DS[10.11.12.13]"]


def test_an_option_line_replaces_the_commented_default(real_cf: str) -> None:
    original = real_cf.splitlines()
    result = sendmail.apply_cf_lines(real_cf, ("O FallbackSmartHost=fb.example.test",)).splitlines()
    at = next(i for i, line in enumerate(original) if line.startswith("#O FallbackSmartHost="))
    assert result[at] == "O FallbackSmartHost=fb.example.test"
    assert not any(line.startswith("#O FallbackSmartHost=") for line in result)
    assert len(result) == len(original)


def test_an_option_line_replaces_the_set_option(real_cf: str) -> None:
    result = sendmail.apply_cf_lines(real_cf, ("O LogLevel=14",)).splitlines()
    assert [line for line in result if line.startswith(("O LogLevel=", "#O LogLevel="))] == ["O LogLevel=14"]


def test_a_braced_macro_replaces_its_definition() -> None:
    cf = "D{MTAHost}[127.0.0.1]\nDS\nS0\nR$* $@ $1\n"
    assert sendmail.apply_cf_lines(cf, ("D{MTAHost}[10.0.0.1]",)) == "D{MTAHost}[10.0.0.1]\nDS\nS0\nR$* $@ $1\n"


def test_a_class_line_goes_before_the_first_ruleset(real_cf: str) -> None:
    original = real_cf.splitlines()
    first_ruleset = next(i for i, line in enumerate(original) if re.match(r"^S\S", line))
    result = sendmail.apply_cf_lines(real_cf, ("CPlocal.test",)).splitlines()
    assert result[first_ruleset] == "CPlocal.test"
    assert result[first_ruleset + 1] == original[first_ruleset]
    assert result[:first_ruleset] == original[:first_ruleset]


def test_several_lines_apply_in_order(real_cf: str) -> None:
    result = sendmail.apply_cf_lines(
        real_cf, ("DS[10.11.12.13]", "O Timeout.queuewarn=1h", "Cwalias.test")
    ).splitlines()
    assert "DS[10.11.12.13]" in result
    assert [line for line in result if "Timeout.queuewarn=" in line] == ["O Timeout.queuewarn=1h"]
    assert result.count("Cwalias.test") == 1
    assert result.index("Cwalias.test") < next(i for i, line in enumerate(result) if re.match(r"^S\S", line))


# --- LOCAL_RULE_n and LOCAL_RULESETS ----------------------------------------------------------


def test_rules_go_after_the_mailers_tab_separated_and_quoted_for_m4() -> None:
    mc = golden("every-key", "sm", "etc/mail/harness.mc").splitlines()
    rules = mc[mc.index("MAILER(`smtp')dnl") + 1 :]
    assert rules == [
        "dnl --- scenario rules: ruleset ParseLocal (98), called by ruleset 0 before its own rules",
        "LOCAL_RULE_0",
        # two spaces in the scenario became a TAB, before the replacement and before the comment
        "`R$* < @ legacy . example . test $* >\t$: $>Legacy $1\tthe old name, canonical or not'",
        "dnl --- scenario rulesets",
        "LOCAL_RULESETS",
        "`SLegacy'",
        "`R$*\t$#esmtp $@ [mx.remote.test] $: $1 < @ remote.test . >'",
    ]


def test_sendmails_complaint_shows_the_line_it_means(real_cf: str) -> None:
    number = real_cf.split("\n").index("SParseLocal=98") + 1  # the cf holds form feeds: split on \n only
    problem = f"/etc/mail/sendmail.cf: line {number}: replacement $3 out of bounds"
    assert sendmail.explain([problem], real_cf) == f"{problem}\n    {number}: SParseLocal=98"


def test_rules_naming_an_undefined_mailer_or_ruleset_are_found(real_cf: str) -> None:
    scenario = load_scenario(SCENARIOS["every-key"])
    settings = node_of(scenario, "sm").settings
    assert isinstance(settings, sendmail.SendmailSettings)
    # every-key's rule calls $>Legacy, defined by its own local_rulesets: the real cf lacks it
    assert sendmail.unknown_references(real_cf, settings) == [
        "local_rules.0[0]: ruleset 'Legacy' is not defined: "
        "R$* < @ legacy . example . test $* >\t$: $>Legacy $1\tthe old name, canonical or not"
    ]
    assert sendmail.unknown_references(real_cf + "SLegacy\n", settings) == []
    bad = dataclasses.replace(settings, local_rules=(("0", ("R$*\t$#nosuch $@ x $: $1", "R$*\t$#$M $@ x $: $1")),))
    [problem] = sendmail.unknown_references(real_cf, bad)
    assert problem.startswith("local_rules.0[0]: mailer 'nosuch' is not defined (defined: *file*, *include*, discard,")
    assert problem.endswith("esmtp, local, prog, relay, smtp, smtp8): R$*\t$#nosuch $@ x $: $1")
