"""The capture sink of ``harness/agent`` (what sink nodes run), on loopback.

Each test starts its own sink (``agent.sink.serve``) on 127.0.0.1 and a free port, in an
asyncio loop in a thread, and talks to it with ``agent.smtp_send.send`` exactly as the
client containers do (the client programs on their own: ``kinds/client/``). No Docker
needed; only 127.0.0.1 is ever used.

aiosmtpd silently ignores a misspelt hook (``handle_Data``), so every hook is proven to run
by a reply injected at its command: if the hook did not fire, the sink's default would come
back instead.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakedns import Zone, serving
from kindtests import LOOPBACK, free_port, run_probe

from harness.agent import sink as sink_module
from harness.agent import smtp_send
from harness.agent.sink import serve
from harness.kinds.sink import SmtpsBannerWait

# SMTP reply codes the tests compare against.
S220_READY = 220
S235_AUTH_OK = 235
S250_OK = 250
S450_MAILBOX_UNAVAILABLE = 450
S451_LOCAL_ERROR = 451
S452_INSUFFICIENT_STORAGE = 452
S504_UNKNOWN_MECHANISM = 504
S530_AUTH_REQUIRED = 530
S535_AUTH_INVALID = 535
S550_MAILBOX_UNAVAILABLE = 550
S554_TRANSACTION_FAILED = 554

# aiosmtpd warns (UserWarning) every time it builds a server that requires AUTH without TLS;
# the sink does that on purpose (CONTAINERS.md), so the AUTH tests accept that one warning.
AUTH_WITHOUT_TLS = "ignore:Requiring AUTH while not requiring TLS:UserWarning"

MESSAGE = (
    b"From: a@example.test\r\nTo: b@remote.test\r\nSubject: t\r\nMessage-ID: <unit-1@example.test>\r\n\r\nbody\r\n"
)


@dataclass
class RunningSink:
    port: int
    captures: Path
    log: Path

    def get_captures(self) -> list[dict[str, Any]]:
        text = self.captures.read_text(encoding="utf-8") if self.captures.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def get_log(self) -> str:
        return self.log.read_text(encoding="utf-8")


class SinkFactory:
    """Starts sinks on loopback, each in its own event loop thread; stops them all at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.stops: list[Any] = []

    def __call__(
        self,
        *,
        replies: list[dict[str, Any]] | None = None,
        auth: dict[str, Any] | None = None,
        starttls: dict[str, str] | None = None,
        implicit_tls: dict[str, str] | None = None,
        authentication: dict[str, Any] | None = None,
    ) -> RunningSink:
        port = free_port()
        folder = self.tmp_path / f"sink-{port}"
        folder.mkdir()
        sink = RunningSink(port, folder / "captures.jsonl", folder / "sink.log")
        config = {
            "hostname": "mx.remote.test",
            "ports": [port],
            "captures": str(sink.captures),
            "log": str(sink.log),
            "auth": auth,
            "replies": replies or [],
            "starttls": starttls,
            # the sink's one port speaks SMTPS
            "implicit_tls": {"ports": [port], **implicit_tls} if implicit_tls else None,
            "authentication": authentication,
        }
        loop = asyncio.new_event_loop()
        started = threading.Event()
        servers: list[asyncio.AbstractServer] = []

        async def start() -> None:
            servers.extend(await serve(config, host=LOOPBACK))

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(start())
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name=f"sink-{port}", daemon=True)
        thread.start()
        assert started.wait(5), "the sink did not start within 5 s"

        def stop() -> None:
            async def close() -> None:
                for server in servers:
                    server.close()
                    await server.wait_closed()

            asyncio.run_coroutine_threadsafe(close(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            # Cancel what is left (handler tasks of closed sessions) before closing the loop.
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self.stops.append(stop)
        return sink

    def stop_all(self) -> None:
        for stop in reversed(self.stops):
            stop()


@pytest.fixture
def start_sink(tmp_path: Path) -> Iterator[SinkFactory]:
    factory = SinkFactory(tmp_path)
    yield factory
    factory.stop_all()


def send_mail(
    sink: RunningSink,
    rcpt_to: list[str] | None = None,
    auth: dict[str, str] | None = None,
    message: bytes = MESSAGE,
    starttls: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """Send one message to the sink with the agent's SMTP client; its transcript and error.
    ``extra``: more request keys (``tls``)."""
    request = {
        "host": LOOPBACK,
        "port": sink.port,
        "helo": "cl.example.test",
        "mail_from": "alice@example.test",
        "rcpt_to": rcpt_to or ["bob@remote.test"],
        "message": base64.b64encode(message).decode("ascii"),
        "auth": auth,
        "starttls": starttls,
        "timeout": 5,
        **extra,
    }
    return smtp_send.send(request)


def stages(result: dict[str, Any]) -> list[tuple[str, int]]:
    return [(step["stage"], step["code"]) for step in result["transcript"]]


def reply_of(result: dict[str, Any], stage: str, argument: str | None = None) -> dict[str, Any]:
    steps: list[dict[str, Any]] = result["transcript"]
    for step in steps:
        if step["stage"] == stage and (argument is None or step["argument"] == argument):
            return step
    raise AssertionError(f"no {stage} step in {result['transcript']}")


# --- plain delivery -------------------------------------------------------------------------


def test_an_accepted_message_is_captured_with_its_envelope(start_sink: SinkFactory) -> None:
    sink = start_sink()
    result = send_mail(sink, rcpt_to=["bob@remote.test", "carol@remote.test"])
    assert result["error"] is None
    assert stages(result) == [
        ("connect", S220_READY),
        ("helo", S250_OK),
        ("mail", S250_OK),
        ("rcpt", S250_OK),
        ("rcpt", S250_OK),
        ("data", S250_OK),
    ]
    assert reply_of(result, "data")["text"] == "2.0.0 Message captured"
    [capture] = sink.get_captures()
    assert capture["peer"] == LOOPBACK
    assert capture["port"] == sink.port
    assert capture["helo"] == "cl.example.test"
    assert capture["mail_from"] == "alice@example.test"
    assert capture["rcpt_to"] == ["bob@remote.test", "carol@remote.test"]
    assert capture["message_id"] == "<unit-1@example.test>"
    assert base64.b64decode(capture["raw"]) == MESSAGE
    assert capture["auth_user"] is None and capture["auth_mechanism"] is None
    assert isinstance(capture["time"], float)
    assert capture["authentication"] is None  # not asked for: no DNS question at all


def test_with_authentication_every_capture_carries_spf_dkim_and_dmarc_verdicts(start_sink: SinkFactory) -> None:
    zone: Zone = {
        ("example.test", "TXT"): ["v=spf1 ip4:127.0.0.0/8 -all"],
        ("_dmarc.example.test", "TXT"): ["v=DMARC1; p=quarantine"],
    }
    with serving(zone) as dns_port:
        sink = start_sink(authentication={"nameservers": [LOOPBACK], "port": dns_port})
        assert send_mail(sink)["error"] is None
        assert send_mail(sink, mail_from="alice@elsewhere.test")["error"] is None
    first, second = sink.get_captures()
    assert first["authentication"]["spf"]["result"] == "pass"
    assert first["authentication"]["dkim"] == []
    assert first["authentication"]["dmarc"]["result"] == "pass"
    assert first["authentication"]["authentication_results"] == (
        "Authentication-Results: mx.remote.test; spf=pass smtp.mailfrom=example.test; dkim=none; "
        "dmarc=pass header.from=example.test policy.dmarc=quarantine"
    )
    assert second["authentication"]["spf"]["result"] == "none"
    assert second["authentication"]["dmarc"]["result"] == "fail"
    assert first["authentication"]["authentication_results"] in sink.get_log()


def test_the_session_log_records_every_command(start_sink: SinkFactory) -> None:
    sink = start_sink()
    send_mail(sink)
    log = sink.get_log()
    assert f"listening on {LOOPBACK}:{sink.port}" in log
    for expected in (
        "EHLO cl.example.test",
        "MAIL FROM:<alice@example.test>",
        "-> 250 2.1.0 Sender OK",
        "RCPT TO:<bob@remote.test>",
        "-> 250 2.1.5 Recipient OK",
        "DATA <unit-1@example.test> from=<alice@example.test> to=bob@remote.test -> 250 2.0.0 Message captured",
    ):
        assert expected in log, f"{expected!r} missing from the session log:\n{log}"
    assert all(" sink[" in line for line in log.splitlines())


def test_each_message_is_one_capture_line(start_sink: SinkFactory) -> None:
    sink = start_sink()
    for n in range(3):
        message = MESSAGE.replace(b"<unit-1@", f"<unit-{n}@".encode())
        assert send_mail(sink, message=message)["error"] is None
    assert [c["message_id"] for c in sink.get_captures()] == [
        "<unit-0@example.test>",
        "<unit-1@example.test>",
        "<unit-2@example.test>",
    ]


def test_a_message_without_message_id_is_captured_with_an_empty_one(start_sink: SinkFactory) -> None:
    sink = start_sink()
    send_mail(sink, message=b"Subject: no id\r\n\r\nbody\r\n")
    [capture] = sink.get_captures()
    assert capture["message_id"] == ""


def read_from_another_process(path: Path) -> str:
    """The file as ``cat`` sees it, as the harness reads it (docker exec cat)."""
    return subprocess.run(["cat", str(path)], capture_output=True, text=True, check=True, timeout=5).stdout


def test_a_capture_is_in_the_file_when_the_250_to_data_arrives(start_sink: SinkFactory) -> None:
    sink = start_sink()
    with smtplib.SMTP(LOOPBACK, sink.port, local_hostname="cl.example.test", timeout=5) as client:
        client.ehlo()
        client.mail("alice@example.test")
        client.rcpt("bob@remote.test")
        code, _ = client.data(MESSAGE)
        assert code == S250_OK
        # Still inside the session, before QUIT: the line is there, whole.
        captures = read_from_another_process(sink.captures)
        log = read_from_another_process(sink.log)
    assert captures.endswith("\n")
    [line] = captures.splitlines()
    assert json.loads(line)["message_id"] == "<unit-1@example.test>"
    assert (
        "DATA <unit-1@example.test> from=<alice@example.test> to=bob@remote.test -> 250 2.0.0 Message captured" in log
    )


def test_captures_truncated_from_outside_start_again_at_the_top(start_sink: SinkFactory) -> None:
    sink = start_sink()
    assert send_mail(sink)["error"] is None
    sink.captures.write_bytes(b"")  # what reset_captures does (": > captures.jsonl")
    message = MESSAGE.replace(b"<unit-1@", b"<unit-2@")
    assert send_mail(sink, message=message)["error"] is None
    text = sink.captures.read_bytes()
    assert text.startswith(b"{") and b"\0" not in text
    assert [c["message_id"] for c in sink.get_captures()] == ["<unit-2@example.test>"]


# --- injected replies: each hook fires -------------------------------------------------------


def test_injected_connect_reply_refuses_the_session(start_sink: SinkFactory) -> None:
    sink = start_sink(replies=[{"command": "connect", "code": 554, "text": "5.3.2 go away", "match": ""}])
    result = send_mail(sink)
    assert result["error"] is None
    assert stages(result) == [("connect", S554_TRANSACTION_FAILED)]
    assert reply_of(result, "connect")["text"] == "5.3.2 go away"
    assert sink.get_captures() == []


def test_injected_helo_reply_proves_handle_ehlo_fires(start_sink: SinkFactory) -> None:
    sink = start_sink(replies=[{"command": "helo", "code": 550, "text": "5.7.1 not you", "match": r"^cl\."}])
    result = send_mail(sink)
    assert stages(result) == [("connect", S220_READY), ("helo", S550_MAILBOX_UNAVAILABLE)]
    assert reply_of(result, "helo")["text"] == "5.7.1 not you"
    assert "-> 550 5.7.1 not you (injected)" in sink.get_log()
    assert sink.get_captures() == []


def test_injected_helo_reply_also_answers_plain_helo(start_sink: SinkFactory) -> None:
    sink = start_sink(replies=[{"command": "helo", "code": 550, "text": "5.7.1 not you", "match": ""}])
    client = smtplib.SMTP(LOOPBACK, sink.port, timeout=5)
    try:
        code, text = client.helo("old.example.test")
    finally:
        client.close()
    assert (code, text) == (S550_MAILBOX_UNAVAILABLE, b"5.7.1 not you")
    assert "HELO old.example.test" in sink.get_log()


def test_helo_without_injection_is_answered_with_the_hostname(start_sink: SinkFactory) -> None:
    sink = start_sink()
    client = smtplib.SMTP(LOOPBACK, sink.port, timeout=5)
    try:
        code, text = client.helo("old.example.test")
        client.quit()
    finally:
        client.close()
    assert (code, text) == (S250_OK, b"mx.remote.test")


def test_injected_mail_reply_proves_handle_mail_fires(start_sink: SinkFactory) -> None:
    sink = start_sink(replies=[{"command": "mail", "code": 451, "text": "4.3.0 try later", "match": "alice@"}])
    result = send_mail(sink)
    assert stages(result) == [("connect", S220_READY), ("helo", S250_OK), ("mail", S451_LOCAL_ERROR)]
    assert reply_of(result, "mail") == {
        "stage": "mail",
        "code": 451,
        "text": "4.3.0 try later",
        "argument": "alice@example.test",
    }
    assert "-> 451 4.3.0 try later" in sink.get_log()


def test_injected_rcpt_reply_applies_only_to_the_matching_address(start_sink: SinkFactory) -> None:
    sink = start_sink(replies=[{"command": "rcpt", "code": 550, "text": "5.1.1 no such user", "match": r"^nobody@"}])
    result = send_mail(sink, rcpt_to=["nobody@remote.test", "bob@remote.test"])
    assert reply_of(result, "rcpt", "nobody@remote.test")["code"] == S550_MAILBOX_UNAVAILABLE
    assert reply_of(result, "rcpt", "nobody@remote.test")["text"] == "5.1.1 no such user"
    assert reply_of(result, "rcpt", "bob@remote.test")["code"] == S250_OK
    assert reply_of(result, "data")["code"] == S250_OK
    [capture] = sink.get_captures()
    assert capture["rcpt_to"] == ["bob@remote.test"]


def test_every_recipient_refused_means_no_data(start_sink: SinkFactory) -> None:
    sink = start_sink(replies=[{"command": "rcpt", "code": 450, "text": "4.2.0 greylisted", "match": ""}])
    result = send_mail(sink, rcpt_to=["a@remote.test", "b@remote.test"])
    assert stages(result)[-2:] == [("rcpt", S450_MAILBOX_UNAVAILABLE), ("rcpt", S450_MAILBOX_UNAVAILABLE)]
    assert sink.get_captures() == []


def test_injected_data_reply_proves_handle_data_fires(start_sink: SinkFactory) -> None:
    sink = start_sink(replies=[{"command": "data", "code": 452, "text": "4.3.1 disk full", "match": "unit-1@"}])
    result = send_mail(sink)
    assert result["error"] is None
    assert reply_of(result, "data") == {"stage": "data", "code": 452, "text": "4.3.1 disk full", "argument": ""}
    assert sink.get_captures() == []
    assert "DATA <unit-1@example.test> -> 452 4.3.1 disk full" in sink.get_log()


def test_data_reply_not_matching_the_message_id_lets_the_message_through(start_sink: SinkFactory) -> None:
    sink = start_sink(replies=[{"command": "data", "code": 452, "text": "4.3.1 disk full", "match": "other@"}])
    assert reply_of(send_mail(sink), "data")["code"] == S250_OK
    assert len(sink.get_captures()) == 1


# --- AUTH without TLS ------------------------------------------------------------------------

USERS = {"relayuser": "s3cret"}


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_auth_required_refuses_mail_without_auth(start_sink: SinkFactory) -> None:
    sink = start_sink(auth={"required": True, "mechanisms": ["PLAIN", "LOGIN"], "users": USERS})
    result = send_mail(sink)
    assert stages(result)[-1] == ("mail", S530_AUTH_REQUIRED)
    assert sink.get_captures() == []


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_a_wrong_password_gets_535(start_sink: SinkFactory) -> None:
    sink = start_sink(auth={"required": True, "mechanisms": ["PLAIN", "LOGIN"], "users": USERS})
    result = send_mail(sink, auth={"user": "relayuser", "password": "wrong", "mechanism": "PLAIN"})
    assert stages(result)[-1] == ("auth", S535_AUTH_INVALID)
    assert reply_of(result, "auth")["argument"] == "PLAIN relayuser"
    assert "AUTH PLAIN relayuser -> 535" in sink.get_log()
    assert sink.get_captures() == []


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_succeeds_and_the_capture_records_who_and_how(start_sink: SinkFactory, mechanism: str) -> None:
    sink = start_sink(auth={"required": True, "mechanisms": ["PLAIN", "LOGIN"], "users": USERS})
    result = send_mail(sink, auth={"user": "relayuser", "password": "s3cret", "mechanism": mechanism})
    assert result["error"] is None
    assert reply_of(result, "auth")["code"] == S235_AUTH_OK
    assert reply_of(result, "data")["code"] == S250_OK
    [capture] = sink.get_captures()
    assert (capture["auth_user"], capture["auth_mechanism"]) == ("relayuser", mechanism)
    assert f"AUTH {mechanism} relayuser -> 235" in sink.get_log()


def test_auth_offered_but_not_required_accepts_anonymous_mail(start_sink: SinkFactory) -> None:
    sink = start_sink(auth={"required": False, "mechanisms": ["PLAIN"], "users": USERS})
    result = send_mail(sink)
    assert reply_of(result, "data")["code"] == S250_OK
    [capture] = sink.get_captures()
    assert capture["auth_user"] is None and capture["auth_mechanism"] is None


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_mechanisms_restricted_to_login_do_not_offer_plain(start_sink: SinkFactory) -> None:
    sink = start_sink(auth={"required": True, "mechanisms": ["LOGIN"], "users": USERS})
    client = smtplib.SMTP(LOOPBACK, sink.port, timeout=5)
    try:
        client.ehlo("cl.example.test")
        offered = client.esmtp_features.get("auth", "").split()
        client.quit()
    finally:
        client.close()
    assert offered == ["LOGIN"]
    refused = send_mail(sink, auth={"user": "relayuser", "password": "s3cret", "mechanism": "PLAIN"})
    assert stages(refused)[-1] == ("auth", S504_UNKNOWN_MECHANISM)
    accepted = send_mail(sink, auth={"user": "relayuser", "password": "s3cret", "mechanism": "LOGIN"})
    assert reply_of(accepted, "data")["code"] == S250_OK


# --- the client's main, against a sink -------------------------------------------------------


def test_the_client_main_prints_the_transcript_as_json(
    start_sink: SinkFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = start_sink()
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "host": LOOPBACK,
                "port": sink.port,
                "helo": "cl.example.test",
                "mail_from": "a@example.test",
                "rcpt_to": ["b@remote.test"],
                "message": base64.b64encode(MESSAGE).decode(),
                "timeout": 5,
            }
        )
    )
    assert smtp_send.main([str(request)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["error"] is None
    assert [s["stage"] for s in printed["transcript"]] == ["connect", "helo", "mail", "rcpt", "data"]


# --- the sink program: worker processes, concurrency ---------------------------------------

SINK_PROGRAM = Path(sink_module.__file__)


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise AssertionError(f"the sink exited with {process.returncode}")
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the sink did not listen within 5 s")


def one_session(port: int, session: int, count: int) -> None:
    with smtplib.SMTP(LOOPBACK, port, local_hostname="cl.example.test", timeout=10) as client:
        for n in range(count):
            mail = MESSAGE.replace(b"<unit-1@example.test>", f"<s{session}-{n}@example.test>".encode())
            client.sendmail("alice@example.test", [f"s{session}@remote.test"], mail)


def test_worker_processes_capture_every_message_whole_and_in_order_per_session(tmp_path: Path) -> None:
    """Two worker processes (SO_REUSEPORT) on one port, 12 sessions at once with 15 messages
    each: every message has one whole capture line, each session's in the order sent (each
    is written before its 250), and both workers listened and wrote to the one session log."""
    port = free_port()
    captures, log = tmp_path / "captures.jsonl", tmp_path / "sink.log"
    config = {
        "hostname": "mx.remote.test",
        "ports": [port],
        "captures": str(captures),
        "log": str(log),
        "auth": None,
        "replies": [],
        "workers": 2,
    }
    (tmp_path / "sink.json").write_text(json.dumps(config))
    process = subprocess.Popen([sys.executable, str(SINK_PROGRAM), "--host", LOOPBACK, str(tmp_path / "sink.json")])
    try:
        wait_for_port(port, process)
        sessions, per_session = 12, 15
        threads = [threading.Thread(target=one_session, args=(port, i, per_session)) for i in range(sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        lines = captures.read_bytes().split(b"\n")
        assert lines[-1] == b""
        records = [json.loads(line) for line in lines[:-1]]
        assert len(records) == sessions * per_session
        for i in range(sessions):
            mine = [r["message_id"] for r in records if r["rcpt_to"] == [f"s{i}@remote.test"]]
            assert mine == [f"<s{i}-{n}@example.test>" for n in range(per_session)]
        listening = [line for line in log.read_text().splitlines() if f"listening on {LOOPBACK}:{port}" in line]
        assert len({line.split(" sink[")[1].split("]")[0] for line in listening}) == 2
    finally:
        pids = {int(line.split(" sink[")[1].split("]")[0]) for line in log.read_text().splitlines() if " sink[" in line}
        for pid in pids | {process.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        process.wait(10)


def test_worker_count_is_the_configured_one_else_one_per_usable_core() -> None:
    assert sink_module.worker_count({"workers": 3}) == 3
    assert sink_module.worker_count({}) == len(os.sched_getaffinity(0))


def test_aiosmtpd_is_given_the_same_auth_methods_and_hook_signature_per_class() -> None:
    """ClassMembers answers as the inspect module does, for what aiosmtpd asks of it."""
    members = sink_module.ClassMembers()
    recorder = sink_module.Recorder(os.devnull, os.devnull)
    handler = sink_module.CaptureHandler({"hostname": "mx.remote.test"}, recorder, 25)
    server = sink_module.SMTP(handler, hostname="mx.remote.test")
    for obj in (server, handler, sink_module.SMTP(handler, hostname="other.test")):
        expected = [(n, m) for n, m in inspect.getmembers(obj) if n.startswith("auth_")]
        assert members.getmembers(obj) == expected
        assert members.getmembers(obj) == expected  # from the cache, bound to this object
    assert [n for n, _ in members.getmembers(handler)] == ["auth_CRAM__MD5"]
    assert members.signature(handler.handle_EHLO) == inspect.signature(handler.handle_EHLO)
    assert members.signature(handler.handle_EHLO) is members.signature(handler.handle_EHLO)
    assert members.cleandoc is inspect.cleandoc


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A self-signed certificate made as the sink's start script makes it."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "sink.crt", folder / "sink.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=mx.remote.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return {"cert": str(cert), "key": str(key)}


def test_starttls_encrypts_the_session_and_the_capture_says_so(
    start_sink: SinkFactory, certificate: dict[str, str]
) -> None:
    sink = start_sink(starttls=certificate)
    result = send_mail(sink, starttls=True)
    stages = [(step["stage"], step["code"]) for step in result["transcript"]]
    assert ("starttls", S220_READY) in stages
    assert stages[-1] == ("data", S250_OK)
    assert [c["tls"] for c in sink.get_captures()] == [True]
    plain = send_mail(sink)
    assert plain["transcript"][-1]["code"] == S250_OK
    assert [c["tls"] for c in sink.get_captures()] == [True, False]


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_auth_that_requires_tls_is_refused_in_the_clear_and_works_after_starttls(
    start_sink: SinkFactory, certificate: dict[str, str]
) -> None:
    auth = {"required": True, "mechanisms": ["PLAIN"], "users": {"account": "password"}, "require_tls": True}
    sink = start_sink(starttls=certificate, auth=auth)
    credentials = {"user": "account", "password": "password", "mechanism": "PLAIN"}
    clear = send_mail(sink, auth=credentials)
    assert clear["transcript"][-1]["stage"] == "auth"
    assert clear["transcript"][-1]["code"] != S235_AUTH_OK
    encrypted = send_mail(sink, auth=credentials, starttls=True)
    assert ("auth", S235_AUTH_OK) in [(s["stage"], s["code"]) for s in encrypted["transcript"]]
    [capture] = sink.get_captures()
    assert (capture["tls"], capture["auth_user"], capture["auth_mechanism"]) == (True, "account", "PLAIN")


def test_starttls_and_plain_sessions_are_told_apart_in_the_capture(
    start_sink: SinkFactory, certificate: dict[str, str]
) -> None:
    sink = start_sink(starttls=certificate)
    send_mail(sink, tls="starttls")
    send_mail(sink)
    encrypted, plain = sink.get_captures()
    assert (encrypted["tls_mode"], plain["tls_mode"]) == ("starttls", "none")
    assert encrypted["tls_version"].startswith("TLSv1") and encrypted["tls_cipher"]
    assert (plain["tls"], plain["tls_version"], plain["tls_cipher"]) == (False, None, None)
    assert "tls=starttls (TLSv1" in sink.get_log()


# --- SMTPS: implicit TLS -----------------------------------------------------------------------


def test_an_smtps_port_speaks_tls_from_the_first_byte(start_sink: SinkFactory, certificate: dict[str, str]) -> None:
    sink = start_sink(implicit_tls=certificate)
    result = send_mail(sink, tls="implicit")
    assert result["error"] is None
    assert stages(result) == [
        ("connect", S220_READY),
        ("helo", S250_OK),
        ("mail", S250_OK),
        ("rcpt", S250_OK),
        ("data", S250_OK),
    ]
    assert "STARTTLS" not in reply_of(result, "helo")["text"]  # no STARTTLS inside TLS
    [capture] = sink.get_captures()
    assert (capture["tls"], capture["tls_mode"]) == (True, "implicit")
    assert capture["tls_version"].startswith("TLSv1") and capture["tls_cipher"]
    assert f"listening on {LOOPBACK}:{sink.port} (implicit TLS)" in sink.get_log()


def test_a_client_in_the_clear_gets_no_greeting_from_an_smtps_port(
    start_sink: SinkFactory, certificate: dict[str, str]
) -> None:
    sink = start_sink(implicit_tls=certificate)
    request_timeout = {"timeout": 1}
    result = send_mail(sink, **request_timeout)
    assert result["transcript"] == []
    assert "timed out" in result["error"]
    assert sink.get_captures() == []


def test_an_smtps_client_on_a_plain_port_fails_at_the_handshake(start_sink: SinkFactory) -> None:
    sink = start_sink()
    result = send_mail(sink, tls="implicit")
    assert result["transcript"] == [] and result["error"].startswith("connect: ")


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_auth_that_requires_tls_is_offered_at_once_on_an_smtps_port(
    start_sink: SinkFactory, certificate: dict[str, str]
) -> None:
    auth = {"required": True, "mechanisms": ["PLAIN"], "users": USERS, "require_tls": True}
    sink = start_sink(implicit_tls=certificate, auth=auth)
    result = send_mail(sink, tls="implicit", auth={"user": "relayuser", "password": "s3cret", "mechanism": "PLAIN"})
    assert reply_of(result, "auth")["code"] == S235_AUTH_OK
    [capture] = sink.get_captures()
    assert (capture["tls_mode"], capture["auth_user"], capture["auth_mechanism"]) == ("implicit", "relayuser", "PLAIN")


# --- CRAM-MD5 and the mechanisms offered -------------------------------------------------------

CRAM = {"required": True, "mechanisms": ["CRAM-MD5", "PLAIN"], "users": USERS}


def offered_mechanisms(sink: RunningSink) -> list[str]:
    client = smtplib.SMTP(LOOPBACK, sink.port, timeout=5)
    try:
        client.ehlo("cl.example.test")
        offered = client.esmtp_features.get("auth", "").split()
        client.quit()
    finally:
        client.close()
    return offered


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_cram_md5_succeeds_and_the_capture_names_it(start_sink: SinkFactory) -> None:
    sink = start_sink(auth=CRAM)
    assert offered_mechanisms(sink) == ["CRAM-MD5", "PLAIN"]
    result = send_mail(sink, auth={"user": "relayuser", "password": "s3cret", "mechanism": "CRAM-MD5"})
    assert reply_of(result, "auth") == {
        "stage": "auth",
        "code": S235_AUTH_OK,
        "text": "2.7.0 Authentication successful",
        "argument": "CRAM-MD5 relayuser",
    }
    [capture] = sink.get_captures()
    assert (capture["auth_user"], capture["auth_mechanism"]) == ("relayuser", "CRAM-MD5")
    assert "AUTH CRAM-MD5 relayuser -> 235" in sink.get_log()


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_cram_md5_with_a_wrong_password_or_an_unknown_user_gets_535(start_sink: SinkFactory) -> None:
    sink = start_sink(auth=CRAM)
    for user, password in (("relayuser", "wrong"), ("nobody", "s3cret")):
        result = send_mail(sink, auth={"user": user, "password": password, "mechanism": "CRAM-MD5"})
        assert stages(result)[-1] == ("auth", S535_AUTH_INVALID)
        assert f"AUTH CRAM-MD5 {user} -> 535" in sink.get_log()
    assert sink.get_captures() == []


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_a_cram_md5_exchange_aborted_by_the_client_gets_one_reply(start_sink: SinkFactory) -> None:
    sink = start_sink(auth=CRAM)
    client = smtplib.SMTP(LOOPBACK, sink.port, timeout=5)
    try:
        client.ehlo("cl.example.test")
        assert client.docmd("AUTH", "CRAM-MD5")[0] == 334
        assert client.docmd("*") == (501, b"5.7.0 Auth aborted")
        assert client.docmd("NOOP")[0] == S250_OK  # nothing else was queued behind the 501
        client.quit()
    finally:
        client.close()


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_cram_md5_is_not_offered_unless_configured(start_sink: SinkFactory) -> None:
    sink = start_sink(auth={"required": True, "mechanisms": ["PLAIN", "LOGIN"], "users": USERS})
    assert offered_mechanisms(sink) == ["LOGIN", "PLAIN"]
    refused = send_mail(sink, auth={"user": "relayuser", "password": "s3cret", "mechanism": "CRAM-MD5"})
    assert stages(refused)[-1] == ("auth", S504_UNKNOWN_MECHANISM)


def test_a_sink_without_auth_offers_none_even_inside_tls(start_sink: SinkFactory, certificate: dict[str, str]) -> None:
    sink = start_sink(starttls=certificate)
    result = send_mail(sink, tls="starttls", auth={"user": "relayuser", "password": "s3cret", "mechanism": "PLAIN"})
    helos = [step for step in result["transcript"] if step["stage"] == "helo"]
    assert len(helos) == 2 and not any("AUTH" in step["text"] for step in helos)
    assert stages(result)[-1][0] == "auth" and stages(result)[-1][1] != S235_AUTH_OK


REFUSED_CRAM = [{"command": "auth", "code": 535, "text": "5.7.8 CRAM-MD5 not possible", "match": "^CRAM-MD5$"}]


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_an_injected_auth_reply_refuses_only_the_matching_mechanism(start_sink: SinkFactory) -> None:
    sink = start_sink(auth=CRAM, replies=REFUSED_CRAM)
    refused = send_mail(sink, auth={"user": "relayuser", "password": "s3cret", "mechanism": "CRAM-MD5"})
    assert reply_of(refused, "auth")["code"] == S535_AUTH_INVALID
    assert reply_of(refused, "auth")["text"] == "5.7.8 CRAM-MD5 not possible"
    assert "AUTH CRAM-MD5 -> 535 5.7.8 CRAM-MD5 not possible (injected)" in sink.get_log()
    accepted = send_mail(sink, auth={"user": "relayuser", "password": "s3cret", "mechanism": "PLAIN"})
    assert reply_of(accepted, "data")["code"] == S250_OK


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_mechanism_auto_is_smtplib_login_which_goes_on_after_a_refusal(start_sink: SinkFactory) -> None:
    sink = start_sink(auth=CRAM, replies=REFUSED_CRAM)
    result = send_mail(sink, auth={"user": "relayuser", "password": "s3cret", "mechanism": "auto"})
    assert [(s["stage"], s["code"], s["argument"]) for s in result["transcript"] if s["stage"] == "auth"] == [
        ("auth", S535_AUTH_INVALID, "CRAM-MD5 relayuser"),
        ("auth", S235_AUTH_OK, "PLAIN relayuser"),
    ]
    [capture] = sink.get_captures()
    assert capture["auth_mechanism"] == "PLAIN"


@pytest.mark.filterwarnings(AUTH_WITHOUT_TLS)
def test_mechanism_auto_stops_when_every_mechanism_is_refused(start_sink: SinkFactory) -> None:
    sink = start_sink(auth=CRAM, replies=REFUSED_CRAM)
    result = send_mail(sink, auth={"user": "relayuser", "password": "wrong", "mechanism": "auto"})
    assert [s["code"] for s in result["transcript"] if s["stage"] == "auth"] == [S535_AUTH_INVALID] * 2
    assert result["error"] is None and stages(result)[-1][0] == "auth"


def test_mechanism_auto_without_auth_offered_is_an_error(start_sink: SinkFactory) -> None:
    sink = start_sink()
    result = send_mail(sink, auth={"user": "relayuser", "password": "s3cret", "mechanism": "auto"})
    assert result["error"] == "auth: SMTP AUTH extension not supported by server."


def test_the_smtps_wait_sees_the_greeting_inside_tls(start_sink: SinkFactory, certificate: dict[str, str]) -> None:
    smtps = start_sink(implicit_tls=certificate)
    plain = start_sink()

    def probe(port: int) -> tuple[int, str]:  # the node's python3 is this host's Python here
        return run_probe(SmtpsBannerWait(port).probe().replace("python3 -c", f"{sys.executable} -c"))

    assert probe(smtps.port) == (0, "220 mx.remote.test mta-harness capture sink")
    assert probe(plain.port)[0] != 0  # a plain port: no TLS handshake
    code, seen = probe(free_port())  # nothing listening: no Python started
    assert code != 0 and "Connection refused" in seen and "Traceback" not in seen
