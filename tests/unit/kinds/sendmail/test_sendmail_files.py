"""A user's own sendmail.mc, access table and local-host-names (``files:``) on a sendmail
node: how harness.mc is made from the user's .mc, and the list of what was overridden."""

from __future__ import annotations

from pathlib import Path

from harness.kinds import kind_of
from harness.kinds.sendmail import usermc
from harness.render.common import NodeConfig
from harness.scenario.loader import load_scenario

SCENARIO = Path(__file__).parents[4] / "scenarios" / "own-config-sendmail.yaml"
SOURCE = "files/own-config-sendmail/sendmail.mc"


def rendered() -> NodeConfig:
    scenario = load_scenario(SCENARIO)
    node = scenario.node("sm")
    return kind_of(node).render(scenario, node)


def test_the_users_defines_are_read() -> None:
    text = "define(`confLOG_LEVEL', `6')dnl\ndefine(`confMAX_MESSAGE_SIZE', 20000000)\nundefine(`x')dnl\n"
    assert usermc.defines(text) == {"confLOG_LEVEL": ("6", 1), "confMAX_MESSAGE_SIZE": ("20000000", 2)}


def test_harness_mc_is_the_users_mc_with_the_harness_lines_before_its_mailers() -> None:
    mc = {path: content for path, content, _ in rendered().files}["/etc/mail/harness.mc"].splitlines()
    assert mc[1] == "# /etc/mail/sendmail.mc of mail.corp.example: Debian's stock file, as the site runs it."
    assert "dnl mta-harness took out: DAEMON_OPTIONS(`Family=inet,  Name=MTA-v4, Port=smtp, Addr=127.0.0.1')dnl" in mc
    assert not any(line.startswith("DAEMON_OPTIONS(`Family=inet,  Name=MSP-v4") for line in mc)
    ours = mc.index("DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr=0.0.0.0')dnl")
    assert mc.index("define(`confLOG_LEVEL', `6')dnl") < mc.index("define(`confLOG_LEVEL', `9')dnl") < ours
    assert ours < mc.index("MAILER(`local')dnl") and mc.count("MAILER(`local')dnl") == 1


def test_the_overrides_are_listed() -> None:
    daemon = "DAEMON_OPTIONS(`Family=inet, Name=MTA-v4, Port=smtp, Addr=0.0.0.0')"
    assert rendered().notes == (
        f"/etc/mail/sendmail.mc ({SOURCE}:11): DAEMON_OPTIONS(`Family=inet,  Name=MTA-v4, Port=smtp, Addr=127.0.0.1') overridden by the harness: {daemon}",
        f"/etc/mail/sendmail.mc ({SOURCE}:12): DAEMON_OPTIONS(`Family=inet,  Name=MSP-v4, Port=submission, M=Ea, Addr=127.0.0.1') overridden by the harness: {daemon}",
        f"/etc/mail/sendmail.mc ({SOURCE}:15): confLOG_LEVEL = 6 overridden by the harness: 9",
        f"/etc/mail/sendmail.mc ({SOURCE}:16): confTO_CONNECT = 1m overridden by the harness: 5s",
    )


def test_the_users_tables_are_compiled_and_local_host_names_kept() -> None:
    config = rendered()
    files = {path: content for path, content, _ in config.files}
    assert files["/etc/mail/local-host-names"] == "sm.corp.example\ncorp.example\n"
    assert "Connect:10.225.3                RELAY" in files["/etc/mail/access"]
    steps = [c.what for c in config.setup]
    assert "makemap hash /etc/mail/access" in steps
    assert steps[1] == f"read the user's sendmail.mc ({SOURCE})"


def test_a_scenario_define_is_listed_as_the_scenarios() -> None:
    lines, notes = usermc.combine(
        "define(`confMAX_MESSAGE_SIZE', `20000000')dnl\nMAILER(`local')dnl\n",
        "mine.mc",
        ["define(`confMAX_MESSAGE_SIZE', `1000')dnl"],
        {"confMAX_MESSAGE_SIZE": ("1000", "the scenario's sendmail.defines")},
    )
    assert notes == [
        "/etc/mail/sendmail.mc (mine.mc:1): confMAX_MESSAGE_SIZE = 20000000 overridden by the scenario's sendmail.defines: 1000"
    ]
    assert lines[-1] == "MAILER(`local')dnl"


def test_procmail_looks_again_after_1_s_unless_the_user_brings_a_procmailrc(tmp_path: Path) -> None:
    from harness.kinds.sendmail.render import PROCMAILRC, PROCMAILRC_TEXT

    (tmp_path / "procmailrc").write_text("LOCKSLEEP=4\n")
    base = (
        "networks: {lan: {subnet: 10.201.0.0/24}}\n"
        "nodes:\n"
        "  sm:\n"
        "    kind: sendmail\n"
        "    hostname: sm.example.test\n"
        "    networks: {lan: 10.201.0.11}\n"
    )
    for extra, ours in (("", True), ("    files: {/etc/procmailrc: procmailrc}\n", False)):
        (tmp_path / "s.yaml").write_text(base + extra)
        scenario = load_scenario(tmp_path / "s.yaml")
        node = scenario.node("sm")
        files = {path: content for path, content, _ in kind_of(node).render(scenario, node).files}
        assert (files.get(PROCMAILRC) == PROCMAILRC_TEXT) is ours
    assert "LOCKSLEEP=1\n" in PROCMAILRC_TEXT
