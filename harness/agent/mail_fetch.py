"""Fetch a mailbox over POP3 or IMAP and print what the server said, and the messages, as JSON.

Runs inside a client or sink container, so that the session stays inside the topology.
Input: a JSON request file {"host", "port", "protocol": "pop3" | "imap", "user", "password",
"delete": bool, "timeout"}.
Output (stdout): {"transcript": [{"stage", "ok", "text"}], "count": int | null,
"messages": [base64 of each message as the server sent it], "error": str | null,
"error_type": the exception's name (ConnectionRefusedError, TimeoutError...) | null}.
Stages: connect (the greeting), user (POP3 USER), login (POP3 PASS, IMAP LOGIN), count (POP3
LIST, IMAP SELECT INBOX), retrieve (one per message), delete, quit. A refused command ends
the session there, as a mail client's would. IMAP replies are the text imaplib gives: a
tagged OK without its response code ("OK Logged in"), a refusal with it ("NO
[AUTHENTICATIONFAILED] ..."), SELECT's message count as "OK <n> EXISTS".
"""

from __future__ import annotations

import base64
import imaplib
import json
import poplib
import sys
from typing import Any


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class Session:
    def __init__(self) -> None:
        self.transcript: list[dict[str, Any]] = []
        self.count: int | None = None
        self.messages: list[bytes] = []

    def note(self, stage: str, ok: bool, text: bytes | str) -> None:
        self.transcript.append({"stage": stage, "ok": ok, "text": _text(text)})

    def result(self, error: str | None = None, error_type: str | None = None) -> dict[str, Any]:
        return {
            "error_type": error_type,
            "transcript": self.transcript,
            "count": self.count,
            "messages": [base64.b64encode(m).decode("ascii") for m in self.messages],
            "error": error,
        }


def pop3(request: dict[str, Any], session: Session) -> None:
    client = poplib.POP3(request["host"], int(request["port"]), timeout=float(request["timeout"]))
    try:
        session.note("connect", True, client.getwelcome())
        for stage, command, argument in (
            ("user", client.user, request["user"]),
            ("login", client.pass_, request["password"]),
        ):
            try:
                session.note(stage, True, command(argument))
            except poplib.error_proto as exc:
                session.note(stage, False, exc.args[0] if exc.args else str(exc))
                return
        reply, listing, _octets = client.list()
        session.note("count", True, reply)
        session.count = len(listing)
        for number in range(1, session.count + 1):
            reply, lines, _octets = client.retr(number)  # dot-stuffing undone by poplib
            session.note("retrieve", True, reply)
            session.messages.append(b"".join(line + b"\r\n" for line in lines))
        if request.get("delete"):
            for number in range(1, session.count + 1):
                session.note("delete", True, client.dele(number))
        session.note("quit", True, client.quit())
    finally:
        client.close()


def _last(data: Any) -> str:
    """The text of an imaplib reply's last line."""
    return _text(data[-1] or b"") if data else ""


def imap(request: dict[str, Any], session: Session) -> None:
    client = imaplib.IMAP4(request["host"], int(request["port"]), timeout=float(request["timeout"]))
    try:
        session.note("connect", True, client.welcome)
        try:
            typ, data = client.login(request["user"], request["password"])
        except imaplib.IMAP4.error as exc:
            session.note("login", False, "NO " + _text(exc.args[0] if exc.args else str(exc)))
            return
        session.note("login", typ == "OK", f"{typ} {_last(data)}")
        selected: Any = client.select("INBOX", readonly=not request.get("delete"))
        typ, data = selected
        if typ != "OK":
            session.note("count", False, f"{typ} {_last(data)}")
            return
        session.count = int(data[0] or 0)
        session.note("count", True, f"{typ} {session.count} EXISTS")
        for number in range(1, session.count + 1):
            fetched: Any = client.fetch(str(number), "(BODY.PEEK[])")
            typ, data = fetched
            session.note("retrieve", typ == "OK", f"{typ} {number}")
            session.messages.extend(part[1] for part in data if isinstance(part, tuple))
        if request.get("delete") and session.count:
            stored: Any = client.store(f"1:{session.count}", "+FLAGS", "\\Deleted")
            session.note("delete", stored[0] == "OK", f"{stored[0]} {_last(stored[1])}")
            expunged: Any = client.expunge()
            session.note("delete", expunged[0] == "OK", f"{expunged[0]} expunged {len([d for d in expunged[1] if d])}")
        bye: Any = client.logout()
        session.note("quit", bye[0] == "BYE", f"{bye[0]} {_last(bye[1])}")
    finally:
        if client.state != "LOGOUT":
            try:
                client.shutdown()
            except OSError:
                pass


def fetch(request: dict[str, Any]) -> dict[str, Any]:
    session = Session()
    protocol = pop3 if request["protocol"] == "pop3" else imap
    try:
        protocol(request, session)
    except (OSError, poplib.error_proto, imaplib.IMAP4.error) as exc:
        stage = "connect" if not session.transcript else "session"
        if not session.transcript:  # no greeting: what the connect met is the connect stage's reply
            session.note("connect", False, f"{type(exc).__name__}: {exc}")
        return session.result(f"{stage}: {type(exc).__name__}: {exc}", type(exc).__name__)
    return session.result()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as fh:
        request = json.load(fh)
    json.dump(fetch(request), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
