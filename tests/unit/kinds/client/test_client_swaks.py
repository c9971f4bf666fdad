"""swaks as the second SMTP client: its printed session read into the built-in client's
transcript (``smtp_send.parse_swaks``), on swaks's real output saved from a sink container
(``data/swaks/``, see ``../README.md``), and the command line the agent runs. No Docker, no
swaks needed: the plumbing test puts a stand-in ``swaks`` on PATH that prints a saved session.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from harness.agent import smtp_send

DATA = Path(__file__).parent / "data" / "swaks"
USER = "relayuser"
EHLO = ("helo", 250, "cl.example.test")
GREETING = ("connect", 220, "")
ENVELOPE = [("mail", 250, "a@example.test"), ("rcpt", 250, "b@remote.test"), ("data", 250, "")]

# file: (stage, code, argument) of each transcript entry, and the session's error
EXPECTED: dict[str, tuple[list[tuple[str, int, str]], str | None]] = {
    "plain-25.txt": ([GREETING, EHLO, *ENVELOPE], None),
    "starttls.txt": ([GREETING, EHLO, ("starttls", 220, ""), EHLO, *ENVELOPE], None),
    "implicit.txt": ([GREETING, EHLO, *ENVELOPE], None),
    "cram-ok.txt": ([GREETING, EHLO, ("auth", 235, "CRAM-MD5 relayuser"), *ENVELOPE], None),
    "cram-bad.txt": ([GREETING, EHLO, ("auth", 535, "CRAM-MD5 relayuser")], "No authentication type succeeded"),
    "cram-injected.txt": (
        [GREETING, EHLO, ("auth", 535, "CRAM-MD5 relayuser")],
        "No authentication type succeeded",
    ),
    "any-injected.txt": (
        [GREETING, EHLO, ("auth", 535, "CRAM-MD5 relayuser"), ("auth", 235, "PLAIN relayuser"), *ENVELOPE],
        None,
    ),
    "plain-ok.txt": ([GREETING, EHLO, ("auth", 235, "PLAIN relayuser"), *ENVELOPE], None),
    "login-ok.txt": (
        [GREETING, EHLO, ("starttls", 220, ""), EHLO, ("auth", 235, "LOGIN relayuser"), *ENVELOPE],
        None,
    ),
    "not-offered.txt": ([GREETING, EHLO], "Auth not attempted, requested type not available"),
    "auth-not-offered.txt": ([GREETING, EHLO], "Host did not advertise authentication"),
    "tls-not-offered.txt": ([GREETING, EHLO], "Host did not advertise STARTTLS"),
    "auth-required.txt": ([GREETING, EHLO, ("mail", 530, "a@example.test")], None),
    "mail-refused.txt": ([GREETING, EHLO, ("mail", 451, "later@example.test")], None),
    "helo-refused.txt": ([GREETING, ("helo", 550, "bad.example.test"), ("helo", 550, "bad.example.test")], None),
    "rcpt-all.txt": ([GREETING, EHLO, ("mail", 250, "a@example.test"), ("rcpt", 550, "reject@remote.test")], None),
    "rcpt-some.txt": (
        [
            GREETING,
            EHLO,
            ("mail", 250, "a@example.test"),
            ("rcpt", 250, "b@remote.test"),
            ("rcpt", 550, "reject@remote.test"),
            ("data", 250, ""),
        ],
        None,
    ),
    "data-refused.txt": ([GREETING, EHLO, *ENVELOPE[:2], ("data", 554, "")], None),
    "conn-554.txt": ([("connect", 554, "")], None),
    "conn-refused.txt": ([], "Error connecting to 127.0.0.1:2599: IO::Socket::INET: connect: Connection refused"),
    "implicit-plain-client.txt": ([], "Timeout (5 secs) waiting for server response"),
}


def parsed(name: str) -> dict[str, Any]:
    return smtp_send.parse_swaks((DATA / name).read_text(encoding="utf-8"), USER)


def test_every_saved_session_is_in_the_table() -> None:
    assert sorted(p.name for p in DATA.glob("*.txt")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=lambda n: n.removesuffix(".txt"))
def test_swaks_session_reads_as_the_built_in_transcript(name: str) -> None:
    result = parsed(name)
    steps, error = EXPECTED[name]
    assert [(t["stage"], t["code"], t["argument"]) for t in result["transcript"]] == steps
    assert result["error"] == error


def test_reply_texts_are_kept_as_smtplib_keeps_them() -> None:
    transcript = parsed("cram-injected.txt")["transcript"]
    assert transcript[0]["text"] == "mx.remote.test mta-harness capture sink"
    # a multi-line reply: each line without its code, joined by newlines
    assert transcript[1]["text"] == "mx.remote.test\nSIZE 33554432\n8BITMIME\nAUTH CRAM-MD5 PLAIN\nHELP"
    assert transcript[2]["text"] == "5.7.8 CRAM-MD5 cannot be checked here"
    # the 354 to DATA is not an entry: the entry is the reply after the message
    data = [t for t in parsed("data-refused.txt")["transcript"] if t["stage"] == "data"]
    assert [(t["code"], t["text"]) for t in data] == [(554, "5.6.0 refused data")]


def test_the_challenges_and_answers_of_auth_are_not_entries() -> None:
    result = parsed("login-ok.txt")
    assert [t["code"] for t in result["transcript"] if t["stage"] == "auth"] == [235]
    assert not any(t["code"] == 334 for t in result["transcript"])


def test_a_message_line_that_looks_like_a_command_stays_message() -> None:
    output = (DATA / "plain-25.txt").read_text(encoding="utf-8").replace(" -> Subject: t", " -> MAIL FROM:<x@y>")
    assert [t["stage"] for t in smtp_send.parse_swaks(output)["transcript"]] == [
        "connect", "helo", "mail", "rcpt", "data",
    ]  # fmt: skip


REQUEST = {
    "host": "10.223.0.30",
    "port": 465,
    "helo": "cl.example.test",
    "mail_from": "a@example.test",
    "rcpt_to": ["b@remote.test", "c@remote.test"],
    "message": base64.b64encode(b"Subject: t\r\n\r\nbody\r\n").decode(),
    "timeout": 30,
}


def test_the_swaks_command_line() -> None:
    command = smtp_send.swaks_command({**REQUEST, "tls": "implicit"}, "/tmp/m.eml")
    assert command == [
        "swaks", "--server", "10.223.0.30", "--port", "465", "--ehlo", "cl.example.test",
        "--from", "a@example.test", "--to", "b@remote.test,c@remote.test", "--data", "@/tmp/m.eml",
        "--timeout", "30s", "--tls-on-connect",
    ]  # fmt: skip
    assert smtp_send.swaks_command({**REQUEST, "starttls": True}, "m")[-1] == "--tls"
    assert smtp_send.swaks_command({**REQUEST, "tls": "starttls"}, "m")[-1] == "--tls"
    assert "--tls" not in smtp_send.swaks_command(REQUEST, "m")
    assert smtp_send.swaks_command({**REQUEST, "mail_from": ""}, "m")[8] == "<>"


@pytest.mark.parametrize(
    ("mechanism", "auth_args"),
    [
        ("CRAM-MD5", ["--auth", "CRAM-MD5"]),
        ("PLAIN", ["--auth", "PLAIN"]),
        ("auto", ["--auth"]),  # no type: swaks chooses among what the server offers
    ],
)
def test_the_swaks_auth_options(mechanism: str, auth_args: list[str]) -> None:
    request = {**REQUEST, "auth": {"user": "u", "password": "p", "mechanism": mechanism}}
    assert smtp_send.swaks_command(request, "m")[-len(auth_args) - 4 :] == [
        *auth_args, "--auth-user", "u", "--auth-password", "p",
    ]  # fmt: skip


def fake_swaks(folder: Path, session: str, stderr_before_quit: str = "") -> Path:
    """A stand-in ``swaks`` that records its arguments and the message, then prints a saved
    session; ``stderr_before_quit`` goes to stderr just before the QUIT, as swaks writes its
    own messages."""
    before, quit_, after = session.partition(" -> QUIT\n")
    (folder / "out1").write_text(before)
    (folder / "out2").write_text(quit_ + after)
    (folder / "err").write_text(stderr_before_quit)
    script = folder / "swaks"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > {folder}/args\n'
        'for a in "$@"; do case "$a" in @*) cp "${a#@}" ' + f"{folder}/message;; esac; done\n"
        f"cat {folder}/out1; cat {folder}/err >&2; cat {folder}/out2\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_send_with_client_swaks_runs_swaks_and_reads_its_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_swaks(tmp_path, (DATA / "cram-ok.txt").read_text(encoding="utf-8"))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    request = {**REQUEST, "client": "swaks", "auth": {"user": USER, "password": "p", "mechanism": "CRAM-MD5"}}
    result = smtp_send.send(request)
    assert [t["stage"] for t in result["transcript"]] == ["connect", "helo", "auth", "mail", "rcpt", "data"]
    assert result["error"] is None
    assert (tmp_path / "args").read_text().splitlines()[:2] == ["--server", "10.223.0.30"]
    assert (tmp_path / "message").read_bytes() == b"Subject: t\r\n\r\nbody\r\n"


def test_swaks_messages_on_stderr_count_in_their_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = (DATA / "cram-bad.txt").read_text(encoding="utf-8").replace("*** No authentication type succeeded\n", "")
    fake_swaks(tmp_path, session, "*** No authentication type succeeded\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    result = smtp_send.send({**REQUEST, "client": "swaks", "auth": {"user": USER, "password": "x"}})
    assert result["error"] == "No authentication type succeeded"


def test_the_message_file_for_swaks_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_swaks(tmp_path, (DATA / "plain-25.txt").read_text(encoding="utf-8"))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    smtp_send.send({**REQUEST, "client": "swaks"})
    assert list((tmp_path / "tmp").iterdir()) == []


def test_without_swaks_installed_the_session_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = smtp_send.send({**REQUEST, "client": "swaks"})
    assert result == {"transcript": [], "error": "swaks is not installed on this node"}


def test_the_client_main_prints_a_swaks_session_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_swaks(tmp_path, (DATA / "implicit.txt").read_text(encoding="utf-8"))
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    request = tmp_path / "request.json"
    request.write_text(json.dumps({**REQUEST, "client": "swaks", "tls": "implicit"}))
    assert smtp_send.main([str(request)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["error"] is None and printed["transcript"][-1]["stage"] == "data"
    assert "--tls-on-connect" in (tmp_path / "args").read_text().splitlines()
