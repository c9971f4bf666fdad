"""sendmail nodes."""

from __future__ import annotations

import shlex

from harness.core.container import NodeContainer
from harness.core.waits import SmtpBannerWait, Wait
from harness.errors import ConfigRejected
from harness.observe.queue import QueueEntry, parse_mailq
from harness.render import sendmail as render_sendmail
from harness.scenario.model import Node
from harness.services.base import Service, first_match


class SendmailService(Service):
    kind = "sendmail"
    image_kind = "sendmail"
    log_path = "/var/log/mail.log"
    required_tools = (*Service.required_tools, "sendmail", "m4", "makemap", "newaliases", "busybox")
    renderer = staticmethod(render_sendmail.render)

    def after_setup(self, container: NodeContainer, node: Node) -> None:
        """Apply raw sendmail.cf lines to the generated file, then let sendmail judge it."""
        assert node.sendmail is not None
        if node.sendmail.cf:
            text = container.read_file(render_sendmail.CF_PATH)
            container.put_files(
                [(render_sendmail.CF_PATH, render_sendmail.apply_cf_lines(text, node.sendmail.cf), 0o644)]
            )
        check = container.exec(["sh", "-c", "echo '$Z' | /usr/sbin/sendmail -bt -d0.1 2>&1 </dev/null"])
        problems = [
            line for line in check.output.splitlines() if "line " in line and ":" in line and "sendmail.cf" in line
        ]
        if problems:
            raise ConfigRejected(f"{node.name}: sendmail rejects the rendered sendmail.cf:\n" + "\n".join(problems))

    def waits(self, node: Node) -> list[Wait]:
        return [SmtpBannerWait(25)]

    def version(self, container: NodeContainer) -> str:
        output = container.exec(["sh", "-c", "/usr/sbin/sendmail -d0.1 -bt </dev/null 2>&1"]).output
        return "sendmail " + first_match(r"Version (\S+)", output)

    def submit_command(self, mail_from: str, recipients: list[str], message_path: str) -> list[str]:
        argv = ["/usr/sbin/sendmail", "-Am", "-oi", "-f", mail_from, "--", *recipients]
        return ["sh", "-c", f"{shlex.join(argv)} < {shlex.quote(message_path)}"]

    def flush_command(self) -> list[str]:
        return ["/usr/sbin/sendmail", "-Am", "-q"]

    def queue_text(self, container: NodeContainer) -> str:
        return container.exec(["/usr/sbin/sendmail", "-Am", "-bp"]).output

    def queue(self, container: NodeContainer) -> list[QueueEntry]:
        return parse_mailq(self.queue_text(container))
