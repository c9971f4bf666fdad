"""Raw sendmail.cf lines (``sendmail: cf:``) put in place, on the sendmail.cf of every version.

``data/cf/<suite>-sendmail.cf`` is the sendmail.cf the harness's m4 build produced in a real
container (``tests/unit/kinds/README.md``). No Docker needed.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from harness.kinds.sendmail import render as sendmail
from harness.scenario.loader import load_scenario

CF = Path(__file__).parent / "data" / "cf"
EVERY_KEY = Path(__file__).parents[2] / "scenarios" / "good" / "every_key.yaml"


@pytest.fixture(params=sorted(p.name for p in CF.glob("*-sendmail.cf")))
def real_cf(request: pytest.FixtureRequest) -> str:
    """sendmail.cf as the harness's m4 build produced it in a real container, per version."""
    name: str = request.param
    return (CF / name).read_text(encoding="utf-8")


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


def test_sendmails_complaint_shows_the_line_it_means(real_cf: str) -> None:
    number = real_cf.split("\n").index("SParseLocal=98") + 1  # the cf holds form feeds: split on \n only
    problem = f"/etc/mail/sendmail.cf: line {number}: replacement $3 out of bounds"
    assert sendmail.explain([problem], real_cf) == f"{problem}\n    {number}: SParseLocal=98"


def test_rules_naming_an_undefined_mailer_or_ruleset_are_found(real_cf: str) -> None:
    settings = load_scenario(EVERY_KEY).node("sm").settings
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
