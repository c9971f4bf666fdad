"""A sink's settings (``nodes.<name>.sink``) as the loader reads them: every malformed file in
``bad/`` fails with its file, line, key path and problem. No Docker needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from kindtests import BadCase, assert_bad_file, assert_every_bad_file_is_in, bad_case_ids

BAD = Path(__file__).parent / "bad"

BAD_CASES: list[BadCase] = [
    ("sink_reply_bad_code.yaml", 10, "nodes.mx.sink.replies[0].code", "650 is not an SMTP reply code"),
    ("sink_auth_without_users.yaml", 9, "nodes.mx.sink.auth", "sink auth needs at least one user"),
    ("sink_without_ports.yaml", 9, "nodes.mx.sink.ports", "a sink needs at least one port"),
]


@pytest.mark.parametrize(("file", "line", "path", "problem"), BAD_CASES, ids=bad_case_ids(BAD_CASES))
def test_malformed_sink_settings_name_file_line_path_and_problem(file: str, line: int, path: str, problem: str) -> None:
    assert_bad_file(BAD, file, line, path, problem)


def test_every_bad_file_is_in_the_table() -> None:
    assert_every_bad_file_is_in(BAD, BAD_CASES)
