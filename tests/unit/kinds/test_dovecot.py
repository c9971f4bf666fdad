"""Dovecot as the mailbox server of both MTA kinds: one shared part, rendered only for a
node with ``mailbox_server:``, waited for by protocol; and the agent's POP3/IMAP client
against a scripted POP3 server on loopback (no Docker)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from kindtests import free_port, greeting_server, run_probe

from harness.agent import mail_fetch
from harness.core.container import ExecResult
from harness.kinds import MailboxServer, capability, kind_of, names_with
from harness.kinds.dovecot import greeting_wait
from harness.kinds.dovecot.render import CONF_PATH, USERS_FILE, conf_path
from harness.scenario.loader import load_scenario_text
from harness.scenario.model import MailboxService, Scenario

SCENARIO = """\
networks: {lan: {subnet: 10.201.0.0/24}}
nodes:
  pf:
    kind: postfix
    hostname: pf.example.test
    networks: {lan: 10.201.0.10}
    users: [alice]
    mailbox_server: {passwords: {alice: secret}}
  sm:
    kind: sendmail
    hostname: sm.example.test
    networks: {lan: 10.201.0.11}
    users: [bob, carol]
    mailbox_server: {protocols: [pop3], passwords: {bob: b-pw, carol: c-pw}}
  plain: {kind: sendmail, hostname: plain.example.test, networks: {lan: 10.201.0.12}, users: [dave]}
"""


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario_text(SCENARIO, "dovecot.yaml")


def test_the_mta_kinds_are_the_mailbox_servers() -> None:
    assert names_with(MailboxServer) == "postfix or sendmail"


def test_the_key_is_read_with_both_protocols_by_default(scenario: Scenario) -> None:
    assert scenario.node("pf").mailbox_server == MailboxService(("pop3", "imap"), (("alice", "secret"),))
    sm = scenario.node("sm").mailbox_server
    assert sm is not None and sm.users == ("bob", "carol") and sm.protocols == ("pop3",)
    assert scenario.node("plain").mailbox_server is None


def test_both_kinds_add_the_same_dovecot_part(scenario: Scenario) -> None:
    pf, sm = (kind_of(scenario.node(n)).render(scenario, scenario.node(n)) for n in ("pf", "sm"))
    for config, users in ((pf, "alice:{PLAIN}secret\n"), (sm, "bob:{PLAIN}b-pw\ncarol:{PLAIN}c-pw\n")):
        files = {path: (text, mode) for path, text, mode in config.files}
        assert files[USERS_FILE] == (users, 0o640)
        assert "mail_location = mbox:~/mail:INBOX=/var/mail/%u" in files[conf_path("2.3")][0]
        assert "mail_inbox_path = /var/mail/%{user}" in files[conf_path("2.4")][0]
        assert "log_path = /var/log/mail.log\n" in files[conf_path("2.3")][0]
        assert [c.what for c in config.setup[-3:]] == [
            "choose the Dovecot configuration of this version",
            "let Dovecot's auth read its passwd-file",
            "doveconf -n (Dovecot judges its configuration)",
        ]
        assert CONF_PATH in config.setup[-3].argv[-1]
        assert config.start.endswith("pgrep -x dovecot >/dev/null || /usr/sbin/dovecot\n")
        assert "/usr/sbin/dovecot stop" in config.stop
    assert "protocols = pop3 imap\n" in dict((p, t) for p, t, _ in pf.files)[conf_path("2.4")]
    assert "protocols = pop3\n" in dict((p, t) for p, t, _ in sm.files)[conf_path("2.3")]


def test_nothing_of_dovecot_without_the_key(scenario: Scenario) -> None:
    node = scenario.node("plain")
    config = kind_of(node).render(scenario, node)
    assert not [f for f in config.files if "dovecot" in f[0]]
    assert "dovecot" not in config.start + config.stop + " ".join(c.what for c in config.setup).lower()
    assert [w.description for w in kind_of(node).waits(node)] == ["an SMTP 220 greeting on port 25"]


def test_the_node_waits_for_each_protocol_it_serves(scenario: Scenario) -> None:
    assert [w.description for w in kind_of(scenario.node("pf")).waits(scenario.node("pf"))] == [
        "an SMTP 220 greeting on port 25",
        "the POP3 greeting (+OK) on port 110",
        "the IMAP greeting (* OK) on port 143",
    ]
    server = capability(scenario.node("sm"), MailboxServer)
    assert server is not None and (server.mailbox_port("pop3"), server.mailbox_port("imap")) == (110, 143)


class Exec:
    """A container that answers exec with a fixed result."""

    def __init__(self, code: int, output: str) -> None:
        self.result = ExecResult(code, output)
        self.argv: list[str] = []

    def exec(self, argv: list[str]) -> ExecResult:
        self.argv = argv
        return self.result


def test_the_greeting_wait_wants_the_protocols_own_greeting() -> None:
    pop3 = greeting_wait("pop3", 110)
    assert pop3.description == "the POP3 greeting (+OK) on port 110"
    with (
        greeting_server(b"+OK Dovecot ready.\r\n") as pop3_port,
        greeting_server(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n") as imap_port,
    ):
        assert run_probe(greeting_wait("pop3", pop3_port).probe()) == (0, "+OK Dovecot ready.")
        assert run_probe(greeting_wait("imap", pop3_port).probe()) == (1, "+OK Dovecot ready.")
        assert run_probe(greeting_wait("imap", imap_port).probe())[0] == 0
    code, seen = run_probe(greeting_wait("pop3", free_port()).probe())
    assert code == 1 and "Connection refused" in seen


def test_the_version_is_dovecots_own() -> None:
    server = capability(load_scenario_text(SCENARIO, "v.yaml").node("pf"), MailboxServer)
    assert server is not None
    assert server.mailbox_version(Exec(0, "2.3.19.1 (9b53102964)\n")) == "Dovecot 2.3.19.1"  # type: ignore[arg-type]
    assert server.mailbox_version(Exec(0, "2.4.1-4 (7d8c0e5759)\n")) == "Dovecot 2.4.1-4"  # type: ignore[arg-type]


# ---- the agent's client against a scripted POP3 server --------------------------------------
MESSAGE = b"Message-ID: <m1@test>\r\nSubject: hi\r\n\r\n.a dotted line\r\nbye\r\n"


def pop3_server(sock: socket.socket, password: str) -> None:
    """One POP3 session as Dovecot answers it: the message is dot-stuffed on the wire."""
    conn, _ = sock.accept()
    with conn, conn.makefile("rwb") as f:
        f.write(b"+OK Dovecot ready.\r\n")
        f.flush()
        for line in f:
            command, _, argument = line.decode().strip().partition(" ")
            if command == "USER":
                f.write(b"+OK\r\n")
            elif command == "PASS":
                if argument != password:
                    f.write(b"-ERR [AUTH] Authentication failed.\r\n")
                else:
                    f.write(b"+OK Logged in.\r\n")
            elif command == "LIST":
                f.write(b"+OK 1 messages:\r\n1 %d\r\n.\r\n" % len(MESSAGE))
            elif command == "RETR":
                f.write(b"+OK %d octets\r\n" % len(MESSAGE) + MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n")
            elif command == "DELE":
                f.write(b"+OK Marked to be deleted.\r\n")
            elif command == "QUIT":
                f.write(b"+OK Logging out.\r\n")
                f.flush()
                return
            f.flush()


@pytest.fixture
def pop3() -> Iterator[tuple[int, threading.Thread]]:
    sock = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=pop3_server, args=(sock, "secret"), daemon=True)
    thread.start()
    yield sock.getsockname()[1], thread
    sock.close()


def request(port: int, password: str = "secret", delete: bool = False) -> dict[str, object]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "protocol": "pop3",
        "user": "alice",
        "password": password,
        "delete": delete,
        "timeout": 5,
    }


def test_the_client_reads_every_message_unstuffed_and_each_reply(pop3: tuple[int, threading.Thread]) -> None:
    result = mail_fetch.fetch(request(pop3[0], delete=True))
    assert [(r["stage"], r["ok"], r["text"]) for r in result["transcript"]] == [
        ("connect", True, "+OK Dovecot ready."),
        ("user", True, "+OK"),
        ("login", True, "+OK Logged in."),
        ("count", True, "+OK 1 messages:"),
        ("retrieve", True, f"+OK {len(MESSAGE)} octets"),
        ("delete", True, "+OK Marked to be deleted."),
        ("quit", True, "+OK Logging out."),
    ]
    assert result["count"] == 1 and result["error"] is None
    assert [mail_fetch.base64.b64decode(m) for m in result["messages"]] == [MESSAGE]


def test_the_client_stops_at_a_refused_login_with_the_servers_words(pop3: tuple[int, threading.Thread]) -> None:
    result = mail_fetch.fetch(request(pop3[0], password="wrong"))
    assert result["transcript"][-1] == {"stage": "login", "ok": False, "text": "-ERR [AUTH] Authentication failed."}
    assert (result["count"], result["messages"], result["error"]) == (None, [], None)


def test_the_client_reports_a_refused_connection_as_its_connect_stage() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = mail_fetch.fetch(request(port))
    assert result["error_type"] == "ConnectionRefusedError"
    assert result["transcript"] == [
        {"stage": "connect", "ok": False, "text": "ConnectionRefusedError: [Errno 111] Connection refused"}
    ]
    assert result["error"] == "connect: ConnectionRefusedError: [Errno 111] Connection refused"
