"""Send one message over SMTP and print the whole transcript as JSON.

Runs inside a client or sink container, so that test traffic stays inside the topology.
Input: a JSON request file {"host", "port", "helo", "mail_from", "rcpt_to", "message" (base64),
"auth": {"user", "password", "mechanism"} | null, "starttls": bool, "tls": "none" | "starttls" |
"implicit", "client": "builtin" | "swaks", "timeout"}.
Output (stdout): {"transcript": [{"stage", "code", "text", "argument"}], "error": str | null}.
A request {"batch": [request, ...]} runs each session in turn: {"results": [output, ...]}.
A refused command does not stop the session where SMTP allows going on (other recipients).

Two clients: the built-in one is Python's smtplib; ``swaks`` (Debian's package) is run as it
is and its printed session is read back into the same transcript (``parse_swaks``), so that
every expectation reads both alike. Mechanism ``auto`` is each client's own choice among what
the server offers: smtplib's ``login()`` and swaks's ``--auth`` without a type, both of which
try the next mechanism after a refusal.
"""

from __future__ import annotations

import base64
import json
import os
import re
import smtplib
import ssl
import subprocess
import sys
import tempfile
from typing import Any


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def tls_mode(request: dict[str, Any]) -> str:
    """none, starttls or implicit: the request's `tls`, or its older `starttls: true`."""
    return str(request.get("tls") or ("starttls" if request.get("starttls") else "none"))


def unverified_context() -> ssl.SSLContext:
    # A test client: the sink's certificate is self-signed, so it is not verified.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def send(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("client", "builtin") == "swaks":
        return send_with_swaks(request)
    transcript: list[dict[str, Any]] = []

    def note(stage: str, code: int, message: bytes | str, argument: str = "") -> None:
        transcript.append({"stage": stage, "code": code, "text": _text(message), "argument": argument})

    timeout = float(request.get("timeout", 30))
    mode = tls_mode(request)
    client = (
        smtplib.SMTP_SSL(timeout=timeout, context=unverified_context())
        if mode == "implicit"
        else smtplib.SMTP(timeout=timeout)
    )
    # smtplib takes the TLS server name from here (set by its constructor, not by connect())
    client._host = request["host"]  # type: ignore[attr-defined]
    try:
        try:
            code, banner = client.connect(request["host"], int(request.get("port", 25)))
        except (OSError, smtplib.SMTPException) as exc:
            return {"transcript": transcript, "error": f"connect: {exc}"}
        note("connect", code, banner)
        if code != 220:
            # SMTP.connect() returns a refusing greeting (554) instead of raising: the
            # server is about to close, so the session ends here, as a client's would.
            return {"transcript": transcript, "error": None}
        reply: bytes | str
        code, reply = client.ehlo(request["helo"])
        note("helo", code, reply, request["helo"])
        if code != 250:
            return {"transcript": transcript, "error": None}
        if mode == "starttls":
            context = unverified_context()
            try:
                code, reply = client.starttls(context=context)
            except smtplib.SMTPNotSupportedError:
                note("starttls", 0, "STARTTLS not offered")
                return {"transcript": transcript, "error": None}
            note("starttls", code, reply)
            if code != 220:
                return {"transcript": transcript, "error": None}
            code, reply = client.ehlo(request["helo"])
            note("helo", code, reply, request["helo"])
        auth = request.get("auth")
        if auth and auth.get("mechanism") == "auto":
            code, error = _login(client, auth, note)
            if code != 235:
                return {"transcript": transcript, "error": error}
        elif auth:
            mechanism = auth.get("mechanism", "PLAIN")
            client.user, client.password = auth["user"], auth["password"]
            authobject: Any = {
                "PLAIN": client.auth_plain,
                "LOGIN": client.auth_login,
                "CRAM-MD5": client.auth_cram_md5,
            }[mechanism]
            try:
                code, reply = client.auth(mechanism, authobject, initial_response_ok=True)
            except smtplib.SMTPAuthenticationError as exc:
                code, reply = exc.smtp_code, exc.smtp_error
            except smtplib.SMTPException as exc:
                return {"transcript": transcript, "error": f"auth: {exc}"}
            note("auth", code, reply, f"{mechanism} {auth['user']}")
            if code != 235:
                return {"transcript": transcript, "error": None}
        code, reply = client.mail(request["mail_from"])
        note("mail", code, reply, request["mail_from"])
        if code != 250:
            return {"transcript": transcript, "error": None}
        accepted = 0
        for rcpt in request["rcpt_to"]:
            code, reply = client.rcpt(rcpt)
            note("rcpt", code, reply, rcpt)
            accepted += code in (250, 251)
        if accepted:
            message = base64.b64decode(request["message"])
            try:
                code, reply = client.data(message)
            except smtplib.SMTPDataError as exc:
                code, reply = exc.smtp_code, exc.smtp_error
            note("data", code, reply)
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass
        return {"transcript": transcript, "error": None}
    except smtplib.SMTPServerDisconnected as exc:
        return {"transcript": transcript, "error": f"server disconnected: {exc}"}
    except OSError as exc:  # socket.timeout is TimeoutError, an OSError
        return {"transcript": transcript, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        client.close()


def _login(client: smtplib.SMTP, auth: dict[str, str], note: Any) -> tuple[int, str | None]:
    """smtplib's own ``login()``: the mechanisms the server offers, in smtplib's order
    (CRAM-MD5, PLAIN, LOGIN), the next one after a refusal. Each try is in the transcript."""
    plain_auth = client.auth

    def auth_noted(mechanism: str, authobject: Any, *, initial_response_ok: bool = True) -> tuple[int, bytes]:
        try:
            code, reply = plain_auth(mechanism, authobject, initial_response_ok=initial_response_ok)
        except smtplib.SMTPAuthenticationError as exc:
            note("auth", exc.smtp_code, exc.smtp_error, f"{mechanism} {auth['user']}")
            raise
        note("auth", code, reply, f"{mechanism} {auth['user']}")
        return code, reply

    client.auth = auth_noted  # type: ignore[method-assign]
    try:
        code, _ = client.login(auth["user"], auth["password"])
        return code, None
    except smtplib.SMTPAuthenticationError as exc:
        return exc.smtp_code, None
    except smtplib.SMTPException as exc:  # nothing offered that smtplib can do
        return 0, f"auth: {exc}"
    finally:
        client.auth = plain_auth  # type: ignore[method-assign]


# --- swaks ---------------------------------------------------------------------------------

SWAKS_REPLY = re.compile(r"^<(?:-|~|\*\*|~\*)\s+(.*)$")  # "<-  250 ok", "<~  ...", "<** 550 ..." (refused)
SWAKS_SENT = re.compile(r"^ (?:-|~|\*|~\*)> ?(.*)$")  # " -> MAIL FROM:<a@b>", " ~> ..." (inside TLS)
SWAKS_ERROR = re.compile(r"^\*\*\*\s*(.*)$")  # "*** Error connecting to ...": swaks's own words
REPLY_LINE = re.compile(r"^(\d{3})([- ]?)(.*)$")


def swaks_command(request: dict[str, Any], data_path: str) -> list[str]:
    command = [
        "swaks",
        "--server",
        request["host"],
        "--port",
        str(request.get("port", 25)),
        "--ehlo",
        request["helo"],
        "--from",
        request["mail_from"] or "<>",
        "--to",
        ",".join(request["rcpt_to"]),
        "--data",
        "@" + data_path,
        "--timeout",
        f"{int(float(request.get('timeout', 30)))}s",
    ]
    mode = tls_mode(request)
    if mode == "starttls":
        command.append("--tls")
    elif mode == "implicit":
        command.append("--tls-on-connect")
    auth = request.get("auth")
    if auth:
        command.append("--auth")
        if auth.get("mechanism", "PLAIN") != "auto":  # without a type: swaks's own choice
            command.append(auth.get("mechanism", "PLAIN"))
        command += ["--auth-user", auth["user"], "--auth-password", auth["password"]]
    return command


def send_with_swaks(request: dict[str, Any]) -> dict[str, Any]:
    """Run swaks for the request and read its printed session into a transcript."""
    fd, data_path = tempfile.mkstemp(prefix="harness-swaks-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(base64.b64decode(request["message"]))
        command = swaks_command(request, data_path)
        try:
            result = subprocess.run(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # swaks's own messages go to stderr, in between
                text=True,
                errors="replace",
                timeout=4 * float(request.get("timeout", 30)) + 10,
                check=False,
            )
        except FileNotFoundError:
            return {"transcript": [], "error": "swaks is not installed on this node"}
        except subprocess.TimeoutExpired:
            return {"transcript": [], "error": "swaks did not finish in time"}
    finally:
        os.unlink(data_path)
    auth = request.get("auth") or {}
    return parse_swaks(result.stdout, auth.get("user", ""))


def parse_swaks(output: str, user: str = "") -> dict[str, Any]:
    """swaks's printed session as the built-in client's transcript: one entry per reply to
    the greeting (connect), EHLO/HELO (helo), STARTTLS, AUTH (its final reply, not the 334
    challenges), MAIL, each RCPT and DATA (the reply after the message, or a refusal of DATA
    itself). swaks's own messages (``***``) before QUIT and a reply that never came
    (``<** Timeout ...``) are the session's error."""
    transcript: list[dict[str, Any]] = []
    errors: list[str] = []
    stage, argument = "connect", ""
    reply: list[str] = []
    in_message = quitting = False
    for line in output.splitlines():
        if (m := SWAKS_REPLY.match(line)) is not None:
            r = REPLY_LINE.match(m.group(1))
            if r is None:  # not a reply: swaks saying that none came
                if not quitting:
                    errors.append(m.group(1).strip())
                continue
            reply.append(r.group(3))
            if r.group(2) == "-":
                continue  # more lines of the same reply follow
            code, text = int(r.group(1)), "\n".join(reply)
            reply = []
            if stage in ("", "quit") or (stage == "auth" and code == 334):
                continue
            if stage == "data" and code == 354 and not in_message:
                in_message = True  # the message follows
                continue
            transcript.append({"stage": stage, "code": code, "text": text, "argument": argument})
            stage, argument = "", ""
        elif (m := SWAKS_SENT.match(line)) is not None:
            sent = m.group(1)
            if in_message:
                in_message = sent != "."
                if not in_message:
                    stage, argument = "data", ""
                continue
            if stage == "auth":
                continue  # the answer to a 334 challenge
            stage, argument = _swaks_stage(sent, user)
            quitting = quitting or stage == "quit"
        elif (m := SWAKS_ERROR.match(line)) is not None and not quitting:
            if m.group(1):
                errors.append(m.group(1).strip())
    return {"transcript": transcript, "error": " ".join(errors) or None}


def _swaks_stage(command: str, user: str) -> tuple[str, str]:
    """The stage of a command swaks sent, and its argument as the built-in client notes it."""
    verb, _, rest = command.partition(" ")
    verb = verb.upper()
    if verb in ("EHLO", "HELO"):
        return "helo", rest
    if verb == "AUTH":
        return "auth", f"{rest.split(' ')[0]} {user}"
    if command.upper().startswith(("MAIL FROM:", "RCPT TO:")):
        address = command.split(":", 1)[1].strip()
        address = address.split(">", 1)[0].lstrip("<") if address.startswith("<") else address
        return ("mail" if verb == "MAIL" else "rcpt"), address
    if verb in ("STARTTLS", "DATA", "QUIT"):
        return verb.lower(), ""
    return "", ""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as fh:
        request = json.load(fh)
    if "batch" in request:
        # Several sessions, one after the other, in one run of the agent: {"results": [...]}.
        json.dump({"results": [send(r) for r in request["batch"]]}, sys.stdout)
    else:
        json.dump(send(request), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
