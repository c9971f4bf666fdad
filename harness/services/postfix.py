"""Postfix nodes."""

from __future__ import annotations

import shlex

from harness.core.container import NodeContainer
from harness.core.waits import SmtpBannerWait, Wait
from harness.observe.queue import QueueEntry, parse_postqueue_json
from harness.render import postfix as render_postfix
from harness.scenario.model import Node
from harness.services.base import Service


class PostfixService(Service):
    kind = "postfix"
    image_kind = "postfix"
    log_path = "/var/log/mail.log"
    required_tools = (*Service.required_tools, "postfix", "postconf", "postmap", "postqueue", "newaliases")
    renderer = staticmethod(render_postfix.render)

    def waits(self, node: Node) -> list[Wait]:
        return [SmtpBannerWait(25)]

    def version(self, container: NodeContainer) -> str:
        return "Postfix " + container.exec(["postconf", "-h", "mail_version"]).output.strip()

    def submit_command(self, mail_from: str, recipients: list[str], message_path: str) -> list[str]:
        argv = ["/usr/sbin/sendmail", "-i", "-f", mail_from, "--", *recipients]
        return ["sh", "-c", f"{shlex.join(argv)} < {shlex.quote(message_path)}"]

    def flush_command(self) -> list[str]:
        return ["postqueue", "-f"]

    def queue_text(self, container: NodeContainer) -> str:
        return container.exec(["postqueue", "-j"]).output

    def queue(self, container: NodeContainer) -> list[QueueEntry]:
        return parse_postqueue_json(self.queue_text(container))
