"""The capture sink: an aiosmtpd server that records every message it accepts.

Runs inside the sink container (Debian's python3-aiosmtpd) and on the host in unit tests.
Self-contained on purpose: it imports nothing from the harness.

Per accepted message one JSON line is appended to the captures file: peer address, port,
HELO name, AUTH identity and mechanism, MAIL FROM, every RCPT, the raw message and the time.
Every command and reply is written to the session log, the sink's equivalent of a mail log.

Configuration (JSON): {"hostname", "ports", "captures", "log", "auth": {"required",
"mechanisms", "users": {login: password}} | null, "replies": [{"command", "code", "text",
"match"}]}.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import email.parser
import email.policy
import json
import os
import re
import ssl
import sys
import time
import warnings
import weakref
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

ALL_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2")


class Recorder:
    """Writes captures and the session log: two append-only files, each opened once.

    Every write is one ``write(2)`` of whole lines to a file opened with ``O_APPEND``, so a
    reader in another process (``cat``, the harness) sees each line complete as soon as it
    is written: a capture is in the file before the 250 to its DATA is sent. There is no
    fsync: readers see the page cache, and the files need to outlive the sink process, not
    the machine. Truncating a file from outside (``: > captures.jsonl``) is safe: the next
    line goes to the new end.
    """

    def __init__(self, captures: str, log: str) -> None:
        self.captures = captures
        self.log_path = log
        self._pid = os.getpid()
        self._captures_fd = _open_append(captures)
        self._log_fd = _open_append(log)
        # Closed with the recorder (or at exit): the sink has no explicit shutdown.
        self._close = weakref.finalize(self, _close_all, (self._captures_fd, self._log_fd))

    def log(self, peer: Any, text: str) -> None:
        stamp = time.strftime("%b %d %H:%M:%S")
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        _write_all(self._log_fd, f"{stamp} sink[{self._pid}]: {where} {text}\n".encode())

    def capture(self, record: dict[str, Any]) -> None:
        _write_all(self._captures_fd, (json.dumps(record, sort_keys=True) + "\n").encode())

    def close(self) -> None:
        self._close()


def _open_append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _close_all(fds: tuple[int, ...]) -> None:
    for fd in fds:
        os.close(fd)


class CaptureHandler:
    """aiosmtpd hooks: apply injected replies, record what was accepted."""

    def __init__(self, config: dict[str, Any], recorder: Recorder, port: int) -> None:
        self.replies = config.get("replies") or []
        self.recorder = recorder
        self.port = port
        self.session_mechanisms: dict[int, str] = {}

    def injected(self, command: str, argument: str) -> str | None:
        for reply in self.replies:
            if reply["command"] == command and re.search(reply.get("match") or "", argument or ""):
                return f"{reply['code']} {reply['text']}"
        return None

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.recorder.log(session.peer, f"EHLO {hostname}")
        reply = self.injected("helo", hostname)
        if reply is not None:
            self.recorder.log(session.peer, f"-> {reply} (injected)")
            return [reply]
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str) -> str:
        self.recorder.log(session.peer, f"HELO {hostname}")
        reply = self.injected("helo", hostname)
        if reply is not None:
            return reply
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.recorder.log(session.peer, f"MAIL FROM:<{address}>")
        reply = self.injected("mail", address)
        if reply is None:
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            reply = "250 2.1.0 Sender OK"
        self.recorder.log(session.peer, f"-> {reply}")
        return reply

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.recorder.log(session.peer, f"RCPT TO:<{address}>")
        reply = self.injected("rcpt", address)
        if reply is None:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            reply = "250 2.1.5 Recipient OK"
        self.recorder.log(session.peer, f"-> {reply}")
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message_id = _message_id(raw)
        reply = self.injected("data", message_id)
        if reply is not None:
            self.recorder.log(session.peer, f"DATA {message_id} -> {reply}")
            return reply
        auth = session.auth_data if isinstance(session.auth_data, LoginPassword) else None
        record = {
            "time": time.time(),
            "port": self.port,
            "peer": session.peer[0] if isinstance(session.peer, tuple) else str(session.peer),
            "helo": session.host_name,
            "auth_user": auth.login.decode("utf-8", "replace") if auth else None,
            "auth_mechanism": self.session_mechanisms.get(id(session)) if auth else None,
            "tls": getattr(session, "ssl", None) is not None,
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "message_id": message_id,
            "raw": base64.b64encode(raw).decode("ascii"),
        }
        self.recorder.capture(record)
        reply = "250 2.0.0 Message captured"
        self.recorder.log(
            session.peer, f"DATA {message_id} from=<{envelope.mail_from}> to={','.join(envelope.rcpt_tos)} -> {reply}"
        )
        return reply


def _message_id(raw: bytes) -> str:
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    value = headers.get("Message-ID", "")
    return str(value).strip()


class RefusingProtocol(asyncio.Protocol):
    """A connection refused at the greeting: the injected reply instead of the 220, then the
    connection is closed. A plain asyncio protocol that the server's factory hands out in
    place of aiosmtpd's SMTP, which never sees the connection."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(self.reply.encode("utf-8") + b"\r\n")
        transport.close()  # after what was written has been sent


def make_factory(config: dict[str, Any], recorder: Recorder, port: int) -> Any:
    handler = CaptureHandler(config, recorder, port)
    auth = config.get("auth")
    connect_reply = handler.injected("connect", "")

    def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        users = auth["users"] if auth else {}
        ok = isinstance(data, LoginPassword) and users.get(
            data.login.decode("utf-8", "replace")
        ) == data.password.decode("utf-8", "replace")
        login = data.login.decode("utf-8", "replace") if isinstance(data, LoginPassword) else "?"
        recorder.log(session.peer, f"AUTH {mechanism} {login} -> {'235' if ok else '535'}")
        if ok:
            handler.session_mechanisms[id(session)] = mechanism
        # auth_data becomes session.auth_data: without it the capture cannot name the user.
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    tls_context = None
    if config.get("starttls"):
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(config["starttls"]["cert"], config["starttls"]["key"])

    def factory() -> asyncio.BaseProtocol:
        if connect_reply is not None:
            return RefusingProtocol(connect_reply)
        kwargs: dict[str, Any] = {"hostname": config["hostname"], "ident": "mta-harness capture sink"}
        if config.get("starttls"):
            kwargs["tls_context"] = tls_context
        if auth:
            kwargs.update(
                authenticator=authenticator,
                auth_required=bool(auth.get("required", True)),
                auth_require_tls=bool(auth.get("require_tls", False)),
                auth_exclude_mechanism=[
                    m for m in ALL_MECHANISMS if m not in auth.get("mechanisms", ["PLAIN", "LOGIN"])
                ],
            )
        return SMTP(handler, **kwargs)

    return factory


async def serve(config: dict[str, Any], host: str = "0.0.0.0") -> list[asyncio.AbstractServer]:
    recorder = Recorder(config["captures"], config["log"])
    servers: list[asyncio.AbstractServer] = []
    loop = asyncio.get_running_loop()
    for port in config["ports"]:
        servers.append(await loop.create_server(make_factory(config, recorder, port), host=host, port=port))
        recorder.log("-", f"listening on {host}:{port}")
    return servers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="the sink's JSON configuration")
    args = parser.parse_args(argv)
    # AUTH without TLS is what the sink is for; aiosmtpd's warnings about it are noise.
    warnings.filterwarnings("ignore", category=UserWarning, module="aiosmtpd")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="aiosmtpd")
    with open(args.config, encoding="utf-8") as fh:
        config = json.load(fh)

    async def run() -> None:
        await serve(config)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
