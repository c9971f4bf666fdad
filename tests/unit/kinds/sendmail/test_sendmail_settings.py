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
]


@pytest.mark.parametrize(("file", "line", "path", "problem"), BAD_CASES, ids=bad_case_ids(BAD_CASES))
def test_malformed_sendmail_settings_name_file_line_path_and_problem(
    file: str, line: int, path: str, problem: str
) -> None:
    assert_bad_file(BAD, file, line, path, problem)


def test_every_bad_file_is_in_the_table() -> None:
    assert_every_bad_file_is_in(BAD, BAD_CASES)
