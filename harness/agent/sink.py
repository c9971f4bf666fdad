"""The capture sink: an aiosmtpd server that records every message it accepts.

Runs inside the sink container (Debian's python3-aiosmtpd) and on the host in unit tests.
Self-contained on purpose: it imports nothing from the harness.

Per accepted message one JSON line is appended to the captures file: peer address, port,
HELO name, AUTH identity and mechanism, TLS (mode none/starttls/implicit, protocol version and
cipher), MAIL FROM, every RCPT, the raw message, the time, and (when ``authentication`` is
configured) the receiving side's SPF, DKIM and DMARC verdicts with the Authentication-Results
text (``authcheck.py``), reached before the 250 to DATA as a receiver's are. Every command and reply is written to the session log, the sink's
equivalent of a mail log.

Configuration (JSON): {"hostname", "ports", "captures", "log", "auth": {"required",
"mechanisms", "users": {login: password}, "require_tls"} | null, "replies": [{"command",
"code", "text", "match"}], "starttls": {"cert", "key"} | null, "implicit_tls": {"ports",
"cert", "key"} | null, "authentication": {"nameservers": [address], "port"} | null,
"workers": N (default: one per usable core)}. With
``authentication``, every message is checked against those DNS servers only. A port in
``implicit_tls.ports`` speaks TLS from the first byte (SMTPS, port 465): asyncio's server
wraps each connection before aiosmtpd sees it, STARTTLS is not offered there and AUTH counts
as encrypted.

Workers: ``main`` forks that many processes before any event loop exists; each listens on the
ports with SO_REUSEPORT (the kernel hands each connection to one of them) and appends to the
same captures file and session log (each line one ``write(2)`` with ``O_APPEND``, so lines of
two workers never mix; a log line names its worker, ``sink[pid]``). A session stays in one
worker, so its captures are in the order its messages were accepted.

AUTH: aiosmtpd's own PLAIN and LOGIN, checked by the authenticator; CRAM-MD5 (RFC 2195) is
the handler's ``auth_CRAM__MD5``, aiosmtpd's hook for mechanisms of one's own. The mechanisms
not configured are excluded, so EHLO offers exactly the configured ones.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import email.parser
import email.policy
import hmac
import inspect
import json
import os
import re
import secrets
import ssl
import sys
import time
import warnings
import weakref
from typing import Any

import aiosmtpd.smtp
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

AUTHCHECK_MISSING = ""
try:  # the receiving side's SPF, DKIM and DMARC checks (python3-spf, -dkim, -authheaders)
    if __package__:
        from . import authcheck
    else:
        import authcheck  # type: ignore[no-redef,import-not-found]
except ImportError as missing:  # pragma: no cover - an image without the libraries
    authcheck = None  # type: ignore[assignment]
    AUTHCHECK_MISSING = str(missing)

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

    def __init__(self, config: dict[str, Any], recorder: Recorder, port: int, implicit_tls: bool = False) -> None:
        self.replies = config.get("replies") or []
        self.recorder = recorder
        self.port = port
        self.implicit_tls = implicit_tls
        self.users: dict[str, str] = dict((config.get("auth") or {}).get("users") or {})
        self.authentication = config.get("authentication")
        self.session_mechanisms: dict[int, str] = {}

    def authenticated(self, session: Session, mechanism: str, login: str, ok: bool) -> None:
        self.recorder.log(session.peer, f"AUTH {mechanism} {login} -> {'235' if ok else '535'}")
        if ok:
            self.session_mechanisms[id(session)] = mechanism

    async def handle_AUTH(self, server: SMTP, session: Session, envelope: Envelope, args: list[str]) -> Any:
        """An injected reply to AUTH <mechanism> (e.g. a server that offers CRAM-MD5 but
        cannot check it); MISSING lets aiosmtpd go on with the mechanism."""
        mechanism = args[0].upper() if args else ""
        reply = self.injected("auth", mechanism)
        if reply is None:
            return MISSING
        self.recorder.log(session.peer, f"AUTH {mechanism} -> {reply} (injected)")
        return reply

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        """CRAM-MD5 (RFC 2195): a challenge, answered with the login and the HMAC-MD5 of the
        challenge keyed with the password, which the sink checks against its users."""
        assert server.session is not None
        session = server.session
        challenge = f"<{secrets.randbelow(10**10)}.{int(time.time())}@{server.hostname}>".encode()
        response = await server.challenge_auth(challenge)
        if response is MISSING:  # aborted ('*') or not base64: aiosmtpd has replied
            return AuthResult(success=False, handled=True)
        assert isinstance(response, bytes)
        login, _, digest = response.decode("utf-8", "replace").rpartition(" ")
        password = self.users.get(login)
        ok = password is not None and hmac.compare_digest(
            hmac.new(password.encode(), challenge, "md5").hexdigest(), digest.lower()
        )
        self.authenticated(session, "CRAM-MD5", login or "?", ok)
        if not ok or password is None:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=LoginPassword(login.encode(), password.encode()))

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
        if not self.users:  # a sink without AUTH: aiosmtpd would still offer an empty one inside TLS
            responses = [line for line in responses if not line[4:].upper().startswith("AUTH")]
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
        tls = self.tls_of(server, session)
        record = {
            "time": time.time(),
            "port": self.port,
            "peer": session.peer[0] if isinstance(session.peer, tuple) else str(session.peer),
            "helo": session.host_name,
            "auth_user": auth.login.decode("utf-8", "replace") if auth else None,
            "auth_mechanism": self.session_mechanisms.get(id(session)) if auth else None,
            "tls": tls["mode"] != "none",
            "tls_mode": tls["mode"],
            "tls_version": tls["version"],
            "tls_cipher": tls["cipher"],
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "message_id": message_id,
            "raw": base64.b64encode(raw).decode("ascii"),
        }
        record["authentication"] = await self.authenticate(server, record, raw)
        self.recorder.capture(record)
        reply = "250 2.0.0 Message captured"
        self.recorder.log(
            session.peer,
            f"DATA {message_id} from=<{envelope.mail_from}> to={','.join(envelope.rcpt_tos)}"
            + (f" tls={tls['mode']} ({tls['version']} {tls['cipher']})" if tls["mode"] != "none" else "")
            + f" -> {reply}",
        )
        return reply

    async def authenticate(self, server: SMTP, record: dict[str, Any], raw: bytes) -> dict[str, Any] | None:
        """SPF, DKIM and DMARC verdicts, as a receiver checks them before it answers DATA
        (in a worker thread: the DNS questions do not hold up other sessions)."""
        if not self.authentication:
            return None
        if authcheck is None:
            return {"error": f"not checked: {AUTHCHECK_MISSING}"}
        loop = asyncio.get_running_loop()
        try:
            verdicts: dict[str, Any] = await loop.run_in_executor(
                None,
                authcheck.evaluate,
                raw,
                record["peer"],
                record["helo"] or "",
                record["mail_from"] or "",
                server.hostname,
            )
        except Exception as exc:  # a verdict that cannot be reached is recorded, not fatal
            verdicts = {"error": f"{type(exc).__name__}: {exc}"}
        self.recorder.log(
            record["peer"], verdicts.get("authentication_results") or f"authentication: {verdicts['error']}"
        )
        return verdicts

    def tls_of(self, server: SMTP, session: Session) -> dict[str, Any]:
        """How the session is encrypted: 'implicit' (an SMTPS port), 'starttls' or 'none',
        with the protocol version and cipher the TLS layer negotiated."""
        mode = "implicit" if self.implicit_tls else "starttls" if session.ssl is not None else "none"
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport is not None else None
        if mode == "none" or ssl_object is None:
            return {"mode": mode, "version": None, "cipher": None}
        cipher = ssl_object.cipher()
        return {"mode": mode, "version": ssl_object.version(), "cipher": cipher[0] if cipher else None}


def _message_id(raw: bytes) -> str:
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    value = headers.get("Message-ID", "")
    return str(value).strip()


class ClassMembers:
    """``inspect`` for aiosmtpd, with its answers kept per class.

    aiosmtpd's SMTP() lists the server's and the handler's ``auth_*`` methods with
    ``inspect.getmembers`` and reads the EHLO hook's ``inspect.signature``, for every
    connection: measured, a fifth of the CPU a one-message connection costs the sink. Both depend on the
    classes only, so they are worked out once per class; the methods are still bound to
    each connection's objects. getmembers returns the ``auth_*`` members only, which is all
    aiosmtpd asks of it; everything else is the inspect module's own.
    """

    def __init__(self) -> None:
        self._auth_names: dict[type, tuple[str, ...]] = {}
        self._signatures: dict[tuple[Any, bool], inspect.Signature] = {}

    def getmembers(self, obj: Any) -> list[tuple[str, Any]]:
        names = self._auth_names.get(type(obj))
        if names is None:
            names = self._auth_names[type(obj)] = tuple(n for n in dir(type(obj)) if n.startswith("auth_"))
        own = [n for n in getattr(obj, "__dict__", {}) if n.startswith("auth_")]
        return [(name, getattr(obj, name)) for name in sorted({*names, *own})]

    def signature(self, function: Any) -> inspect.Signature:
        key = (getattr(function, "__func__", function), hasattr(function, "__self__"))
        found = self._signatures.get(key)
        if found is None:
            found = self._signatures[key] = inspect.signature(function)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)


def use_class_members() -> None:
    """Let aiosmtpd's SMTP() ask ClassMembers instead of the inspect module (once)."""
    if not isinstance(getattr(aiosmtpd.smtp, "inspect", None), ClassMembers):
        setattr(aiosmtpd.smtp, "inspect", ClassMembers())  # noqa: B010 - the module's own name for inspect


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


def make_factory(config: dict[str, Any], recorder: Recorder, port: int, implicit_tls: bool = False) -> Any:
    handler = CaptureHandler(config, recorder, port, implicit_tls)
    auth = config.get("auth")
    connect_reply = handler.injected("connect", "")

    def authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and handler.users.get(
            data.login.decode("utf-8", "replace")
        ) == data.password.decode("utf-8", "replace")
        login = data.login.decode("utf-8", "replace") if isinstance(data, LoginPassword) else "?"
        handler.authenticated(session, mechanism, login, ok)
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
        if config.get("starttls") and not implicit_tls:
            kwargs["tls_context"] = tls_context
        if auth:
            kwargs.update(
                authenticator=authenticator,
                auth_required=bool(auth.get("required", True)),
                # An SMTPS session is encrypted before aiosmtpd sees it: AUTH is offered at once.
                auth_require_tls=bool(auth.get("require_tls", False)) and not implicit_tls,
                auth_exclude_mechanism=[
                    m for m in ALL_MECHANISMS if m not in auth.get("mechanisms", ["PLAIN", "LOGIN"])
                ],
            )
        else:
            kwargs["auth_exclude_mechanism"] = list(ALL_MECHANISMS)
        return SMTP(handler, **kwargs)

    return factory


# Every IPv4 and every IPv6 address (each socket IPv6-only, as asyncio binds them): a node
# on a dual-stack network is reached over both; elsewhere IPv6 is on loopback only.
EVERY_ADDRESS = ("0.0.0.0", "::")


async def serve(
    config: dict[str, Any], host: str | tuple[str, ...] = EVERY_ADDRESS, reuse_port: bool = False
) -> list[asyncio.AbstractServer]:
    """Listen on the configured ports. ``reuse_port``: other worker processes listen on the
    same ports (SO_REUSEPORT), and the kernel hands each new connection to one of them."""
    use_class_members()
    recorder = Recorder(config["captures"], config["log"])
    if config.get("authentication") and authcheck is not None:
        authcheck.use_nameservers(config["authentication"]["nameservers"], config["authentication"].get("port", 53))
    servers: list[asyncio.AbstractServer] = []
    loop = asyncio.get_running_loop()
    implicit = config.get("implicit_tls") or {}
    smtps_context = None
    if implicit:
        smtps_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        smtps_context.load_cert_chain(implicit["cert"], implicit["key"])
    for port in config["ports"]:
        wrapped = port in implicit.get("ports", [])
        factory = make_factory(config, recorder, port, implicit_tls=wrapped)
        # SMTPS: the server does the TLS handshake, as aiosmtpd's Controller(ssl_context=...) does.
        servers.append(
            await loop.create_server(
                factory, host=host, port=port, ssl=smtps_context if wrapped else None, reuse_port=reuse_port or None
            )
        )
        hosts = (host,) if isinstance(host, str) else host
        where = " and ".join(f"[{h}]:{port}" if ":" in h else f"{h}:{port}" for h in hosts)
        recorder.log("-", f"listening on {where}" + (" (implicit TLS)" if wrapped else ""))
    return servers


def worker_count(config: dict[str, Any]) -> int:
    """Worker processes: ``workers`` from the configuration, else one per usable core."""
    wanted = config.get("workers")
    if wanted:
        return max(1, int(wanted))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="the sink's JSON configuration")
    parser.add_argument(
        "--host", default=None, help="the address to listen on (default: every IPv4 and every IPv6 one)"
    )
    args = parser.parse_args(argv)
    # AUTH without TLS is what the sink is for; aiosmtpd's warnings about it are noise.
    warnings.filterwarnings("ignore", category=UserWarning, module="aiosmtpd")
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="aiosmtpd")
    # pyspf asks DNS with dnspython's older query(); dnspython says so on every question.
    warnings.filterwarnings("ignore", "please use dns.resolver.resolve", DeprecationWarning)
    with open(args.config, encoding="utf-8") as fh:
        config = json.load(fh)
    workers = worker_count(config)
    # One event loop (and its GIL) per core: the workers are forked before any loop or thread
    # exists, each listens on the ports with SO_REUSEPORT and appends to the same two files.
    for _ in range(workers - 1):
        if os.fork() == 0:
            break

    async def run() -> None:
        await serve(config, host=args.host or EVERY_ADDRESS, reuse_port=workers > 1)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
