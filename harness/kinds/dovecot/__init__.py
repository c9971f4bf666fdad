"""Dovecot as the mailbox server of an MTA node (Debian's dovecot-pop3d and dovecot-imapd,
in the postfix and sendmail images): POP3 and IMAP access to the same mbox files the MTA
delivers to (``/var/mail/<user>``), for the users and passwords of the node's
``mailbox_server:`` key. Nothing of Dovecot runs on a node without that key.

Not a kind of its own: the MTA kinds have the :class:`Dovecot` capability and add its part
to their configuration (:meth:`Dovecot.with_mailbox_server`) and readiness
(:meth:`Dovecot.mailbox_waits`)."""

from __future__ import annotations

import re
from typing import ClassVar

from harness.core.container import NodeContainer
from harness.core.waits import GreetingWait, Wait
from harness.kinds.base import MailboxServer
from harness.kinds.dovecot import render, settings
from harness.render.common import NodeConfig
from harness.scenario.model import MailboxService, Node
from harness.scenario.reader import Reader
from harness.scenario.source import PathT

# The greeting each protocol opens with (RFC 1939: "+OK"; RFC 3501: "* OK").
GREETINGS = {"pop3": "+OK", "imap": "* OK"}


def greeting_wait(protocol: str, port: int) -> GreetingWait:
    """The POP3 or IMAP server greets on ``port`` with its protocol's greeting."""
    prefix = GREETINGS[protocol]
    return GreetingWait(port, prefix, f"the {protocol.upper()} greeting ({prefix})")


class Dovecot(MailboxServer):
    """The MailboxServer capability, with Dovecot."""

    log_path: ClassVar[str]  # the kind's mail log: Dovecot writes its lines there too

    def parse_mailbox_server(self, reader: Reader, path: PathT, node_users: tuple[str, ...]) -> MailboxService:
        return settings.parse(reader, path, node_users)

    def mailbox_port(self, protocol: str) -> int:
        return render.PORTS[protocol]

    def mailbox_version(self, container: NodeContainer) -> str:
        output = container.exec(["dovecot", "--version"]).output.strip()
        match = re.match(r"(\S+)", output)
        return "Dovecot " + (match.group(1) if match else output)

    def with_mailbox_server(self, config: NodeConfig, node: Node) -> NodeConfig:
        """The MTA's configuration, and Dovecot's if the node asks for a mailbox server."""
        if node.mailbox_server is None:
            return config
        return render.add_to(config, node.mailbox_server, self.log_path)

    def mailbox_waits(self, node: Node) -> list[Wait]:
        if node.mailbox_server is None:
            return []
        return [greeting_wait(p, self.mailbox_port(p)) for p in node.mailbox_server.protocols]
