"""sendmail nodes: Debian's packages; sendmail.cf built from a rendered .mc with m4 and
sendmail-cf, maps with ``makemap``; the log through busybox syslogd, the queue ``mailq``."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from harness.core.container import NodeContainer
from harness.core.waits import SmtpBannerWait, Wait
from harness.errors import ConfigRejected
from harness.kinds.base import BASE_TOOLS, AddressTest, AddressTester, Kind, Mta
from harness.kinds.dovecot import Dovecot
from harness.kinds.opendkim import OpenDkim
from harness.kinds.sendmail import addresstest, logs, queue, render, settings
from harness.kinds.sendmail.settings import SendmailSettings
from harness.observe.logs import Delivery, LogLine
from harness.observe.queue import QueueEntry
from harness.render.common import NodeConfig
from harness.scenario.model import Node, Scenario
from harness.scenario.reader import Reader
from harness.scenario.source import PathT


class SendmailKind(Kind[SendmailSettings], Mta, AddressTester, Dovecot, OpenDkim):
    name = "sendmail"
    settings_key = "sendmail"
    settings_type = SendmailSettings
    image = "sendmail"
    package_dir = Path(__file__).resolve().parent
    log_path = "/var/log/mail.log"
    dkim_log_path = "/var/log/mail.log"
    queue_id = logs.QUEUE_ID
    plain_start = "mkdir -p /run/sendmail/mta && exec /usr/sbin/sendmail -bD"
    required_tools = (*BASE_TOOLS, "sendmail", "m4", "makemap", "newaliases", "busybox")
    takes_rulesets = True
    default_rulesets = addresstest.DEFAULT_RULESETS

    def parse_settings(self, reader: Reader, path: PathT) -> SendmailSettings:
        return settings.parse(reader, path)

    def validate_node(self, reader: Reader, path: PathT, node: Node) -> None:
        """A user's file may not be one the harness builds, nor one the scenario's
        ``sendmail:`` settings also write."""
        config = self.settings(node)
        written = {
            render.CF_PATH: ("the harness builds it from the .mc", "place your sendmail.mc at /etc/mail/sendmail.mc"),
            render.MC_PATH: ("the harness writes it", "place your sendmail.mc at /etc/mail/sendmail.mc"),
        }
        for name, table in (("access", config.access), ("mailertable", config.mailertable)):
            if table:
                written[f"/etc/mail/{name}"] = (
                    f"sendmail.{name} writes it too",
                    f"keep one of them (the user's file, or sendmail.{name})",
                )
        if config.relay_domains:
            written["/etc/mail/relay-domains"] = (
                "sendmail.relay_domains writes it too",
                "keep one of them (the user's file, or sendmail.relay_domains)",
            )
        for f in node.files:
            if f.target in written:
                problem, fix = written[f.target]
                reader.fail((*path, "files", f.target), f"{f.target}: {problem}", fix)

    def render_settings(self, scenario: Scenario, node: Node, config: SendmailSettings) -> NodeConfig:
        return self.with_dkim(self.with_mailbox_server(render.render(scenario, node, config), node), scenario, node)

    def after_setup(self, container: NodeContainer, node: Node) -> None:
        """Apply raw sendmail.cf lines to the generated file, then let sendmail judge it."""
        config = self.settings(node)
        if config.cf:
            text = container.read_file(render.CF_PATH)
            container.put_files([(render.CF_PATH, render.apply_cf_lines(text, config.cf), 0o644)])
        check = container.exec(["sh", "-c", "echo '$Z' | /usr/sbin/sendmail -bt -d0.1 2>&1 </dev/null"])
        problems = [
            line for line in check.output.splitlines() if "line " in line and ":" in line and "sendmail.cf" in line
        ]
        cf_text = container.read_file(render.CF_PATH)
        if problems:
            raise ConfigRejected(
                f"{node.name}: sendmail rejects the rendered sendmail.cf:\n" + render.explain(problems, cf_text)
            )
        unknown = render.unknown_references(cf_text, config)
        if unknown:
            raise ConfigRejected(
                f"{node.name}: the scenario's rules name what sendmail.cf does not define:\n" + "\n".join(unknown)
            )

    def waits(self, node: Node) -> list[Wait]:
        return [SmtpBannerWait(25), *self.mailbox_waits(node)]

    def version(self, container: NodeContainer) -> str:
        output = container.exec(["sh", "-c", "/usr/sbin/sendmail -d0.1 -bt </dev/null 2>&1"]).output
        match = re.search(r"Version (\S+)", output)
        return "sendmail " + (match.group(1) if match else "")

    def parse_log(self, text: str) -> list[LogLine]:
        return logs.parse(text)

    def deliveries(self, lines: list[LogLine]) -> list[Delivery]:
        return logs.deliveries(lines)

    def submit_command(self, mail_from: str, recipients: list[str], message_path: str) -> list[str]:
        argv = ["/usr/sbin/sendmail", "-Am", "-oi", "-f", mail_from, "--", *recipients]
        return ["sh", "-c", f"{shlex.join(argv)} < {shlex.quote(message_path)}"]

    def flush_command(self) -> list[str]:
        return ["/usr/sbin/sendmail", "-Am", "-q"]

    def queue_text(self, container: NodeContainer) -> str:
        return container.exec(["/usr/sbin/sendmail", "-Am", "-bp"]).output

    def parse_queue(self, text: str) -> list[QueueEntry]:
        return queue.parse_mailq(text)

    def state(self, container: NodeContainer) -> list[str]:
        return self.queue_state(container)

    def address_test(self, container: NodeContainer, address: str, rulesets: str | None = None) -> AddressTest:
        argv = addresstest.command(address, rulesets or self.default_rulesets)[1]
        return self.parse_address_test(address, rulesets, container.exec(argv).output)

    def parse_address_test(self, address: str, rulesets: str | None, output: str) -> AddressTest:
        return addresstest.parse(addresstest.command(address, rulesets or self.default_rulesets)[0], output)


KIND = SendmailKind()
