"""What a kind of node is to the harness, and what it can do.

A kind is one package under ``harness/kinds/``: its settings (schema, loader part, typed
model), its renderer, its image, how it starts and is waited for, its version probe, and, by
capability, its log and queue parsers. The core never compares kind names: it asks a kind
for a capability with ``isinstance``:

- :class:`Mta` accepts local submissions, flushes its queue, has a mail log, a queue and
  local mailboxes;
- :class:`CaptureSink` records every message it is given;
- :class:`SmtpClient` can start SMTP sessions and ask DNS questions from inside a topology;
- :class:`DnsServer` serves the topology's zones;
- :class:`AddressTester` runs the MTA's own address test: where it routes an address.
- :class:`MailboxServer` serves its local users' mailboxes over POP3 and IMAP, when a node
  asks for it (the node key ``mailbox_server``).
- :class:`DkimSigner` signs the mail its MTA sends with DKIM, when a node asks for it (the
  node key ``dkim``), and hands the harness the DNS records of its public key.

A new kind subclasses :class:`Kind` (and the capabilities it has) and is listed once in
``harness/kinds/__init__.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from harness.core.container import NodeContainer
from harness.core.waits import Wait
from harness.errors import HarnessError
from harness.observe.logs import Delivery, LogLine
from harness.observe.queue import QueueEntry
from harness.render.common import HOSTS_COMMAND, HOSTS_FILE, NodeConfig, hosts_file
from harness.scenario.model import DkimSigning, KindSettings, MailboxService, Node, Record, Scenario

if TYPE_CHECKING:
    from harness.scenario.reader import Reader
    from harness.scenario.source import PathT


@dataclass(frozen=True)
class NoSettings(KindSettings):
    """A kind without settings of its own."""


S = TypeVar("S", bound=KindSettings)

BASE_TOOLS = ("sh", "cat", "cp", "pkill", "ip")


class Kind(Generic[S]):
    """One kind of node. Subclasses set the class attributes and override what differs."""

    name: ClassVar[str] = ""
    # The node key its settings are written under (``postfix:``); None: it has none.
    settings_key: ClassVar[str | None] = None
    settings_type: ClassVar[type[KindSettings]] = NoSettings
    # The image's name, and the package folder whose ``image/Dockerfile`` builds it.
    image: ClassVar[str] = ""
    package_dir: ClassVar[Path] = Path()
    log_path: ClassVar[str] = ""
    # Commands a node's image must have: checked before configuring, so that a user-supplied
    # image that lacks one fails with a list of what is missing.
    required_tools: ClassVar[tuple[str, ...]] = BASE_TOOLS
    # The package's service started the plain way, with its stock configuration: what the
    # bring-up benchmark times as the floor a topology's start is compared with.
    plain_start: ClassVar[str] = ""

    # ---- the scenario ----------------------------------------------------------------------
    def parse_settings(self, reader: Reader, path: PathT) -> S:
        """The kind's settings at ``path`` (the node's ``settings_key``), validated.

        Only called when the key is there; a node without it gets ``default_settings()``."""
        return self.default_settings()

    def default_settings(self) -> S:
        return self.settings_type()  # type: ignore[return-value]

    def settings(self, node: Node) -> S:
        """The node's settings, as this kind's type."""
        if not isinstance(node.settings, self.settings_type):
            raise HarnessError(
                f"node '{node.name}' of kind {self.name} carries {type(node.settings).__name__}, "
                f"not {self.settings_type.__name__}"
            )
        return node.settings  # type: ignore[return-value]

    def validate_node(self, reader: Reader, path: PathT, node: Node) -> None:
        """Checks across the node's keys (``path`` is the node's), after its settings are read."""

    # ---- configuration -----------------------------------------------------------------------
    def render(self, scenario: Scenario, node: Node) -> NodeConfig:
        """The kind's own render, with what every node gets whatever its kind (``hosts:``)."""
        config = self.with_user_files(node, self.render_settings(scenario, node, self.settings(node)))
        if not node.hosts:
            return config
        return replace(
            config,
            files=((HOSTS_FILE, hosts_file(node), 0o644), *config.files),
            setup=(HOSTS_COMMAND, *config.setup),
        )

    def render_settings(self, scenario: Scenario, node: Node, settings: S) -> NodeConfig:
        raise NotImplementedError(f"kind {self.name} renders nothing")

    def with_user_files(self, node: Node, config: NodeConfig) -> NodeConfig:
        """The user's own files (``files:``), placed verbatim before the setup commands run.

        A kind combines a file it knows with what the topology needs in ``render_settings``
        (Postfix applies its parameters to the user's main.cf with ``postconf -e``) and says
        what it overrode in ``config.notes``; a file the kind renders itself at the same path
        is the kind's (its ``validate_node`` should refuse such a file at load)."""
        own = {path for path, _, _ in config.files}
        placed = tuple((f.target, f.content, 0o644) for f in node.files if f.target not in own)
        return replace(config, files=(*placed, *config.files)) if placed else config

    # ---- the image ---------------------------------------------------------------------------
    @property
    def image_dir(self) -> Path:
        return self.package_dir / "image"

    def image_files(self) -> list[tuple[str, bytes]]:
        """Files added to the build context besides the image folder's (name, content)."""
        return []

    def image_suite(self, suite: str) -> str:
        """The suite whose image this kind uses (a kind not under test may use one suite)."""
        return suite

    # ---- a running node ------------------------------------------------------------------------
    def prepare(self, container: NodeContainer) -> None:
        """Put what the kind needs into the container before its tools are checked."""

    def missing_tools(self, container: NodeContainer) -> list[str]:
        tools = " ".join(self.required_tools)
        result = container.exec(["sh", "-c", f"for t in {tools}; do command -v $t >/dev/null 2>&1 || echo $t; done"])
        if result.code == 126 or "exec failed" in result.output:
            return ["sh"]
        return result.output.split()

    def after_setup(self, container: NodeContainer, node: Node) -> None:
        """A hook for steps that need the output of the setup commands."""

    def waits(self, node: Node) -> list[Wait]:
        return []

    def plain_waits(self, node: Node) -> list[Wait]:
        """Readiness of a ``plain_start``ed node (stock configuration)."""
        return self.waits(node)

    def read_log(self, container: NodeContainer) -> str:
        return container.read_file(self.log_path) if self.log_path else ""

    def parse_log(self, text: str) -> list[LogLine]:
        """The mail log as lines with queue ids (kinds without a mail log: none)."""
        return []

    def version(self, container: NodeContainer) -> str:
        return ""

    def state(self, container: NodeContainer) -> list[str]:
        """What a failure report shows of the node besides its log (queue, captures)."""
        return []


class Mta:
    """Capability: a mail transfer agent with local submission, a queue and local mailboxes."""

    local_users: ClassVar[bool] = True
    # A regular expression of the MTA's queue ids (no anchors, no groups).
    queue_id: ClassVar[str] = ""

    def submit_command(self, mail_from: str, recipients: list[str], message_path: str) -> list[str]:
        raise NotImplementedError

    def flush_command(self) -> list[str]:
        raise NotImplementedError

    def queue_text(self, container: NodeContainer) -> str:
        raise NotImplementedError

    def parse_queue(self, text: str) -> list[QueueEntry]:
        raise NotImplementedError

    def deliveries(self, lines: list[LogLine]) -> list[Delivery]:
        raise NotImplementedError

    def mailbox_path(self, user: str) -> str:
        return f"/var/mail/{user}"

    def queue(self, container: NodeContainer) -> list[QueueEntry]:
        return self.parse_queue(self.queue_text(container))

    def queue_state(self, container: NodeContainer) -> list[str]:
        entries = self.queue(container)
        if not entries:
            return ["queue: empty"]
        return ["queue:"] + [f"  {e.qid} <{e.sender}> -> {', '.join(e.recipients)}: {e.reason}" for e in entries]


class CaptureSink:
    """Capability: records every message it accepts, readable while running or stopped."""

    def captures(self, container: NodeContainer, since: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The captures recorded after byte offset ``since``, and the offset to read on from."""
        raise NotImplementedError

    def reset_captures(self, container: NodeContainer) -> None:
        raise NotImplementedError

    def may_check_authentication(self, node: Node) -> bool:
        """Whether the sink can reach SPF/DKIM/DMARC verdicts when a step asks for them."""
        return True


class SmtpClient:
    """Capability: starts SMTP sessions and DNS queries from inside the topology."""

    def smtp_send_command(self, request_path: str) -> list[str]:
        raise NotImplementedError

    def dns_query_command(self, server: str, name: str, rtype: str) -> list[str]:
        raise NotImplementedError

    def mail_fetch_command(self, request_path: str) -> list[str]:
        """Fetch a mailbox over POP3 or IMAP (the agent's ``mail_fetch.py``)."""
        raise NotImplementedError


class DnsServer:
    """Capability: serves the topology's zones; every other node resolves through it."""

    def publish(self, container: NodeContainer, scenario: Scenario, records: tuple[Record, ...]) -> None:
        """Add records (absolute owners, each inside one of the scenario's zones) to the
        running server's zones, and return once it serves them."""
        raise NotImplementedError


@dataclass(frozen=True)
class AddressTest:
    """What an MTA's own address test says of one address: the delivery agent (sendmail's
    mailer, Postfix's transport), the host it hands the mail to, and the recipient it hands
    over (sendmail's ``$#mailer $@host $:user`` triple). A field the test did not give is None."""

    command: str  # what was run, as an administrator would type it
    transcript: str  # the whole output (or the log lines the test produced)
    result: str  # the line the fields were read from ("" when there is none)
    mailer: str | None = None
    host: str | None = None
    user: str | None = None


class AddressTester:
    """Capability: the MTA's own address test (``sendmail -bt``, Postfix's ``sendmail -bv``)."""

    # Whether the test takes a sequence of rulesets (sendmail's "3,0"), and its default.
    takes_rulesets: ClassVar[bool] = False
    default_rulesets: ClassVar[str] = ""

    def address_test(self, container: NodeContainer, address: str, rulesets: str | None = None) -> AddressTest:
        """Run the test inside the node and read what it says."""
        raise NotImplementedError

    def parse_address_test(self, address: str, rulesets: str | None, output: str) -> AddressTest:
        """What the test's output says (for unit tests on recorded output, too)."""
        raise NotImplementedError


class MailboxServer:
    """Capability: serves the node's local mailboxes (the ones its MTA delivers to) over POP3
    and IMAP, for the users and passwords of the node's ``mailbox_server:`` key. A node
    without that key runs no such server."""

    # The node key that asks for it.
    mailbox_key: ClassVar[str] = "mailbox_server"

    def parse_mailbox_server(self, reader: Reader, path: PathT, node_users: tuple[str, ...]) -> MailboxService:
        raise NotImplementedError

    def mailbox_port(self, protocol: str) -> int:
        """The port a protocol is served on."""
        raise NotImplementedError

    def mailbox_version(self, container: NodeContainer) -> str:
        """The mailbox server's name and version, as the node reports it."""
        raise NotImplementedError


class DkimSigner:
    """Capability: signs the mail the node's MTA sends with DKIM, for the domains and
    selector of the node's ``dkim:`` key, with a key made in the node when it is
    configured. A node without that key signs nothing."""

    # The node key that asks for it.
    dkim_key: ClassVar[str] = "dkim"

    def parse_dkim(self, reader: Reader, path: PathT) -> DkimSigning:
        raise NotImplementedError

    def dkim_records(self, container: NodeContainer, node: Node) -> tuple[Record, ...]:
        """The TXT records of the node's public key (read from the configured node), one
        per signing domain: what the topology's DNS must serve before the MTA starts."""
        raise NotImplementedError

    def dkim_version(self, container: NodeContainer) -> str:
        """The signer's name and version, as the node reports it."""
        raise NotImplementedError
