"""sendmail's settings (``nodes.<name>.sendmail``) as the loader reads them: every malformed
file in ``bad/`` fails with its file, line, key path and problem. No Docker needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from kindtests import BadCase, assert_bad_file, assert_every_bad_file_is_in, bad_case_ids

BAD = Path(__file__).parent / "bad"

BAD_CASES: list[BadCase] = [
    (
        "bad_cf_line.yaml",
        11,
        "nodes.sm.sendmail.cf[1]",
        "'SmartHost=mx.example.test' is not a sendmail.cf macro, class or option line",
    ),
    ("bad_queue_interval.yaml", 9, "nodes.sm.sendmail.queue_interval", "'10 minutes' is not a sendmail interval"),
    (
        "rule_without_rhs.yaml",
        12,
        "nodes.sm.sendmail.local_rules.0[1]",
        "the rule 'R$*<@$D> $#esmtp $@mstore $:$1' has no right-hand side",
    ),
    (
        "rule_without_lhs.yaml",
        11,
        "nodes.sm.sendmail.local_rules.0[0]",
        "the rule 'R\t$#local $: $1' has no left-hand side",
    ),
    ("unknown_local_rule.yaml", 10, "nodes.sm.sendmail.local_rules.4", "the .mc has no LOCAL_RULE_4"),
    (
        "rule_not_r_line.yaml",
        11,
        "nodes.sm.sendmail.local_rules.0[0]",
        "'DDexample.test' is not a rewriting rule (R line)",
    ),
    (
        "ruleset_in_local_rules.yaml",
        11,
        "nodes.sm.sendmail.local_rules.2[0]",
        "'SMyRules' starts a ruleset; LOCAL_RULE_2 takes R lines only",
    ),
    (
        "rule_with_m4_quote.yaml",
        11,
        "nodes.sm.sendmail.local_rules.0[0]",
        "'R$*  $#error $: 550 don't' holds an m4 quote character (` or ')",
    ),
    ("rulesets_start_with_r.yaml", 10, "nodes.sm.sendmail.local_rulesets[0]", "'R$*  $: $1' comes before any ruleset"),
    ("bad_ruleset_line.yaml", 10, "nodes.sm.sendmail.local_rulesets[0]", "'S My Rules' is not a ruleset line"),
    (
        "files_sendmail_cf.yaml",
        9,
        "nodes.sm.files./etc/mail/sendmail.cf",
        "/etc/mail/sendmail.cf: the harness builds it from the .mc",
    ),
]

# Where the loader must also say how to fix it: file -> the fix text.
FIXES = {
    "rule_without_rhs.yaml": "separate pattern, replacement and comment with a tab or two or more spaces",
    "unknown_local_rule.yaml": "use 0, 1, 2 or 3 for LOCAL_RULE_0 to LOCAL_RULE_3; a named ruleset goes under local_rulesets",
    "ruleset_in_local_rules.yaml": "put it under local_rulesets",
    "rulesets_start_with_r.yaml": "start local_rulesets with an S line (e.g. SMyRules)",
}


@pytest.mark.parametrize(("file", "line", "path", "problem"), BAD_CASES, ids=bad_case_ids(BAD_CASES))
def test_malformed_sendmail_settings_name_file_line_path_and_problem(
    file: str, line: int, path: str, problem: str
) -> None:
    assert_bad_file(BAD, file, line, path, problem, FIXES.get(file))


def test_every_bad_file_is_in_the_table() -> None:
    assert_every_bad_file_is_in(BAD, BAD_CASES)
