"""The ``files:`` node key, its generic part: sources read relative to the scenario file, and
an MTA's complaints about a line of a placed file mapped back to the user's file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.scenario.files import point_at_sources
from harness.scenario.loader import load_scenario
from harness.scenario.model import UserFile

TOPOLOGY = """\
networks:
  lan: {subnet: 10.225.9.0/24}
nodes:
  pf:
    kind: postfix
    hostname: pf.example.test
    networks: {lan: 10.225.9.10}
    files:
"""


def scenario_with(tmp_path: Path, files: str) -> Path:
    path = tmp_path / "scenarios" / "mine.yaml"
    path.parent.mkdir()
    path.write_text(TOPOLOGY + files, encoding="utf-8")
    return path


def test_sources_are_read_relative_to_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "scenarios" / "files").mkdir(parents=True)
    (tmp_path / "scenarios" / "files" / "prod-main.cf").write_text("myhostname = mail.prod.example\n")
    (tmp_path / "shared.cf").write_text("/^Subject: x/ REJECT\n")
    path = tmp_path / "scenarios" / "mine.yaml"
    path.write_text(
        TOPOLOGY + "      /etc/postfix/main.cf: files/prod-main.cf\n      /etc/postfix/header_checks: ../shared.cf\n"
    )
    node = load_scenario(path).node("pf")
    assert node.files == (
        UserFile("/etc/postfix/main.cf", "files/prod-main.cf", "myhostname = mail.prod.example\n"),
        UserFile("/etc/postfix/header_checks", "../shared.cf", "/^Subject: x/ REJECT\n"),
    )
    assert node.user_file("/etc/postfix/main.cf") is node.files[0]
    assert node.user_file("/etc/postfix/master.cf") is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("/etc/postfix/main.cf: files", "the source file 'files' is a folder"),
        ("/etc/postfix/main.cf: ''", "no source file given"),
        ("/etc/postfix/main.cf: [a, b]", "the source of /etc/postfix/main.cf must be a string, not a list"),
        ("/etc/: files/x.cf", "'/etc/' is not a file path under /etc/"),
        ("/etc//postfix/main.cf: files/x.cf", "'/etc//postfix/main.cf' is not a file path under /etc/"),
        ("/etc/harness/resolv.conf: files/x.cf", "is under /etc/harness/, which the harness writes itself"),
        ("/etc/resolv.conf: files/x.cf", "/etc/resolv.conf is the topology's (every node resolves through"),
        ("/etc/hosts: files/x.cf", "/etc/hosts is the topology's (use the node key hosts:"),
    ],
)
def test_bad_entries(tmp_path: Path, entry: str, problem: str) -> None:
    path = scenario_with(tmp_path, f"      {entry}\n")
    (path.parent / "files").mkdir()
    (path.parent / "files" / "x.cf").write_text("x = y\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.line == 9 and problem in str(info.value)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = scenario_with(tmp_path, "      /etc/postfix/main.cf: latin1.cf\n")
    (path.parent / "latin1.cf").write_bytes(b"# Gr\xfc\xdfe\nmyhostname = a.example\n")
    with pytest.raises(ScenarioError, match=r"the source file 'latin1.cf' is not UTF-8 text \(byte 4\)"):
        load_scenario(path)


FILES = (
    UserFile("/etc/postfix/main.cf", "files/prod-main.cf", "a = 1\nthis line has no equals sign\n"),
    UserFile("/etc/postfix/header_checks", "files/hc", "/^Subject: x/ REJECT\n/unclosed( REJECT\n"),
    UserFile("/etc/mail/sendmail.mc", "files/sendmail.mc", "divert(-1)dnl\ninclude(`/etc/mail/m4/nosuch.m4')dnl\n"),
)


def test_complaints_point_at_the_users_file_and_line() -> None:
    output = "\n".join(
        [
            "postconf: fatal: /etc/postfix/main.cf, line 2: missing '=' after attribute name: \"this line has no equals sign\"",
            'postmap: warning: regexp map /etc/postfix/header_checks, line 2: no closing regexp delimiter "/": skipping this rule',
            "m4:/etc/mail/sendmail.mc:2: cannot open `/etc/mail/m4/nosuch.m4': No such file or directory",
            "postfix/postfix-script: warning: symlink leaves directory: /etc/postfix/./makedefs.out",
        ]
    )
    assert point_at_sources(FILES, output) == [
        (
            "postconf: fatal: /etc/postfix/main.cf, line 2: missing '=' after attribute name: \"this line has no equals sign\"",
            "files/prod-main.cf:2: this line has no equals sign",
        ),
        (
            'postmap: warning: regexp map /etc/postfix/header_checks, line 2: no closing regexp delimiter "/": skipping this rule',
            "files/hc:2: /unclosed( REJECT",
        ),
        (
            "m4:/etc/mail/sendmail.mc:2: cannot open `/etc/mail/m4/nosuch.m4': No such file or directory",
            "files/sendmail.mc:2: include(`/etc/mail/m4/nosuch.m4')dnl",
        ),
    ]


def test_a_line_past_the_end_of_the_source_shows_nothing_of_it() -> None:
    assert point_at_sources(FILES[:1], "/etc/postfix/main.cf, line 9: x") == [
        ("/etc/postfix/main.cf, line 9: x", "files/prod-main.cf:9: ")
    ]
