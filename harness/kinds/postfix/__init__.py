"""Postfix nodes: Debian's package, configured with ``postconf``/``postmap``, judged by
``postfix check``; the log is Postfix's own ``maillog_file``, the queue ``postqueue -j``."""

from __future__ import annotations

import shlex
from pathlib import Path

from harness.core.container import NodeContainer
from harness.core.waits import Poll, SmtpBannerWait, Wait, poll_until
from harness.kinds.base import BASE_TOOLS, AddressTest, AddressTester, Kind, Mta
from harness.kinds.dovecot import Dovecot
from harness.kinds.opendkim import OpenDkim
from harness.kinds.postfix import logs, queue, render, settings, verify
from harness.kinds.postfix.settings import PostfixSettings
from harness.observe.logs import Delivery, LogLine
from harness.observe.queue import QueueEntry
from harness.render.common import NodeConfig
from harness.scenario.model import Node, Scenario
from harness.scenario.reader import Reader
from harness.scenario.source import PathT

# How long a ``sendmail -bv`` verdict may take: past smtp_connect_timeout (5 s here) and a retry.
VERIFY_WITHIN = 20.0


class PostfixKind(Kind[PostfixSettings], Mta, AddressTester, Dovecot, OpenDkim):
    name = "postfix"
    settings_key = "postfix"
    settings_type = PostfixSettings
    image = "postfix"
    package_dir = Path(__file__).resolve().parent
    log_path = "/var/log/mail.log"
    dkim_log_path = "/var/log/opendkim.log"
    queue_id = logs.QUEUE_ID
    plain_start = "postfix start-fg"
    required_tools = (*BASE_TOOLS, "postfix", "postconf", "postmap", "postqueue", "newaliases")

    def parse_settings(self, reader: Reader, path: PathT) -> PostfixSettings:
        return settings.parse(reader, path)

    def validate_node(self, reader: Reader, path: PathT, node: Node) -> None:
        """A user's file may not be one the scenario's ``postfix:`` settings also write."""
        config = self.settings(node)
        written = {m.path: "postfix.maps" for m in config.maps}
        if config.aliases:
            written["/etc/aliases"] = "postfix.aliases"
        for f in node.files:
            if f.target in written:
                reader.fail(
                    (*path, "files", f.target),
                    f"{f.target} is written by both files: and {written[f.target]}",
                    f"keep one of them (the user's file, or {written[f.target]})",
                )

    def render_settings(self, scenario: Scenario, node: Node, config: PostfixSettings) -> NodeConfig:
        return self.with_dkim(self.with_mailbox_server(render.render(scenario, node, config), node), scenario, node)

    def waits(self, node: Node) -> list[Wait]:
        return [SmtpBannerWait(25), *self.mailbox_waits(node)]

    def version(self, container: NodeContainer) -> str:
        return "Postfix " + container.exec(["postconf", "-h", "mail_version"]).output.strip()

    def parse_log(self, text: str) -> list[LogLine]:
        return logs.parse(text)

    def deliveries(self, lines: list[LogLine]) -> list[Delivery]:
        return logs.deliveries(lines)

    def submit_command(self, mail_from: str, recipients: list[str], message_path: str) -> list[str]:
        argv = ["/usr/sbin/sendmail", "-i", "-f", mail_from, "--", *recipients]
        return ["sh", "-c", f"{shlex.join(argv)} < {shlex.quote(message_path)}"]

    def flush_command(self) -> list[str]:
        return ["postqueue", "-f"]

    def queue_text(self, container: NodeContainer) -> str:
        return container.exec(["postqueue", "-j"]).output

    def parse_queue(self, text: str) -> list[QueueEntry]:
        return queue.parse_postqueue_json(text)

    def state(self, container: NodeContainer) -> list[str]:
        return self.queue_state(container)

    def address_test(self, container: NodeContainer, address: str, rulesets: str | None = None) -> AddressTest:
        """``sendmail -bv``: the verdict is logged once the delivery agent has probed the
        next hop (a fraction of a second here; up to a connect timeout for a dead host)."""
        before = len(self.read_log(container).splitlines())
        output = container.exec(verify.command(address)[1]).output

        def verdict() -> Poll[str]:
            logged = "\n".join(self.read_log(container).splitlines()[before:])
            return Poll(verify.verdict_of(self.parse_log(logged), address) is not None, logged)

        logged = poll_until(verdict, VERIFY_WITHIN).value
        return self.parse_address_test(address, rulesets, output.rstrip("\n") + "\n" + logged)

    def parse_address_test(self, address: str, rulesets: str | None, output: str) -> AddressTest:
        return verify.parse(verify.command(address)[0], output, address)


KIND = PostfixKind()
