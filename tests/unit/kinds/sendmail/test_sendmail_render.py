"""What sendmail's rendered files say (``golden/``, kept by ``tests/unit/test_render.py``),
checked as a mail administrator would."""

from __future__ import annotations

import re
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def golden(scenario_name: str, node_name: str, relative: str) -> str:
    return (GOLDEN / scenario_name / node_name / relative).read_text(encoding="utf-8")


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
