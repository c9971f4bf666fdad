"""Send one message over SMTP and print the whole transcript as JSON.

Runs inside a client or sink container, so that test traffic stays inside the topology.
Input: a JSON request file {"host", "port", "helo", "mail_from", "rcpt_to", "message" (base64),
"auth": {"user", "password", "mechanism"} | null, "timeout"}.
Output (stdout): {"transcript": [{"stage", "code", "text", "argument"}], "error": str | null}.
A refused command does not stop the session where SMTP allows going on (other recipients).
"""

from __future__ import annotations

import base64
import json
import smtplib
import ssl
import sys
from typing import Any


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def send(request: dict[str, Any]) -> dict[str, Any]:
    transcript: list[dict[str, Any]] = []

    def note(stage: str, code: int, message: bytes | str, argument: str = "") -> None:
        transcript.append({"stage": stage, "code": code, "text": _text(message), "argument": argument})

    client = smtplib.SMTP(timeout=float(request.get("timeout", 30)))
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
        if request.get("starttls"):
            # A test client: the sink's certificate is self-signed, so it is not verified.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            client._host = request["host"]  # type: ignore[attr-defined]  # smtplib takes the TLS server name from here
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
        if auth:
            mechanism = auth.get("mechanism", "PLAIN")
            client.user, client.password = auth["user"], auth["password"]
            authobject = client.auth_plain if mechanism == "PLAIN" else client.auth_login
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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    with open(args[0], encoding="utf-8") as fh:
        request = json.load(fh)
    json.dump(send(request), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
