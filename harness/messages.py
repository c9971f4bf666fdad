"""Test messages: each carries a unique Message-ID, by which logs and captures are matched."""

from __future__ import annotations

import base64
import email.utils
import uuid
from dataclasses import dataclass

MESSAGE_ID_DOMAIN = "mta-harness.test"


@dataclass(frozen=True)
class Message:
    name: str
    message_id: str
    raw: bytes
    sender: str = ""  # the envelope: MAIL FROM
    recipients: tuple[str, ...] = ()  # and RCPT TO

    def base64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")


def compose(
    name: str,
    run_id: str,
    mail_from: str,
    to: list[str],
    subject: str | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> Message:
    message_id = f"<{name}.{run_id}.{uuid.uuid4().hex[:12]}@{MESSAGE_ID_DOMAIN}>"
    fields = {
        "From": mail_from,
        "To": ", ".join(to),
        "Subject": subject or f"mta-harness test message {name}",
        "Date": email.utils.formatdate(localtime=False),
        "Message-ID": message_id,
        "X-Harness-Message": name,
    }
    fields.update(headers or {})
    text = "".join(f"{key}: {value}\r\n" for key, value in fields.items())
    text += "\r\n" + (body or f"Test message {name} of run {run_id}.\r\n")
    if not text.endswith("\r\n"):
        text += "\r\n"
    return Message(name, message_id, text.encode("utf-8"), mail_from, tuple(to))
