"""A node of a running topology: its model, its kind, its container; how it is configured
and started, what can be observed of it, and the faults that can be done to it."""

from __future__ import annotations

import shlex
import threading
import time
from typing import TYPE_CHECKING, Any

from harness.core.container import ExecResult, NodeContainer
from harness.core.waits import wait_ready
from harness.errors import ConfigRejected, ImageLacksTools, StepError
from harness.kinds import (
    AddressTester,
    CaptureSink,
    DkimSigner,
    DnsServer,
    Kind,
    MailboxServer,
    Mta,
    capability,
    kind_of,
)
from harness.kinds.base import AddressTest
from harness.observe.logs import Delivery, LogLine, queue_ids_for
from harness.observe.queue import QueueEntry
from harness.render.common import ADD_HOSTS, DROP_DEFAULT_ROUTE, Command, NodeConfig
from harness.scenario.files import point_at_sources
from harness.scenario.model import Attachment, Node, Record, Scenario

if TYPE_CHECKING:
    from harness.topology.capture import Sidecar
    from harness.topology.networks import Networks

SETUP_SCRIPT = "/etc/harness/setup.sh"
START_SCRIPT = "/etc/harness/start.sh"
STOP_SCRIPT = "/etc/harness/stop.sh"
READY_MARKER = "/etc/harness/start.ready"
# While a node is configured its DNS server may not run yet: lookups fail at once on
# loopback instead of waiting for a timeout (sendmail's tools look its own name up); the
# start script puts the topology's resolver in place before the service starts.
SEAL_COMMAND = Command(
    "seal the node (no DNS until it starts, no default route)",
    ("sh", "-c", f"printf 'nameserver 127.0.0.1\\n' > /etc/resolv.conf && {{ {DROP_DEFAULT_ROUTE}; }}"),
)
_STEP_MARK = "@@mta-harness setup step "

# What an image is does not change while it exists: tools and versions are probed once.
_probed: dict[tuple[str, str, str], Any] = {}
_probe_lock = threading.Lock()


def setup_script(commands: tuple[Command, ...]) -> str:
    """All setup commands as one script, run with one exec: each announces itself, and the
    first that fails ends it with its exit status (its output says what the tool said)."""
    lines = ["#!/bin/sh"]
    for i, command in enumerate(commands):
        lines.append(f"echo '{_STEP_MARK}{i}'")
        lines.append(f"{shlex.join(command.argv)} 2>&1 || exit $?")
    return "\n".join(lines) + "\n"


def failed_step(commands: tuple[Command, ...], output: str) -> tuple[Command, str]:
    """The command a failed setup script stopped at, and that command's output."""
    index, chunk = 0, output
    for part in output.split(_STEP_MARK)[1:]:
        number, _, rest = part.partition("\n")
        if number.strip().isdigit():
            index, chunk = int(number), rest
    return commands[min(index, len(commands) - 1)], chunk.strip()


def _addresses(attachment: Attachment) -> list[str]:
    """The addresses of one attachment: IPv4, and IPv6 on a dual-stack network."""
    return [str(attachment.ip), *([str(attachment.ip6)] if attachment.ip6 is not None else [])]


def _host_route(address: str) -> str:
    """A route to one host: ``/32`` or, for IPv6, ``/128``."""
    return f"{address}/128" if ":" in address else f"{address}/32"


class NodeHandle:
    """A node of a running topology."""

    def __init__(self, node: Node, container: NodeContainer, networks: Networks, start_timeout: float = 90.0) -> None:
        self.node = node
        self.kind: Kind[Any] = kind_of(node)
        self.container = container
        self.networks = networks
        self.start_timeout = start_timeout
        self.config: NodeConfig | None = None
        self.version = ""
        # What the harness overrode of the user's own files, and what the MTA said of them.
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}
        self._captures: list[dict[str, Any]] = []
        self._captures_read = 0
        self.peers: list[NodeHandle] = []  # the topology's other nodes, set by the topology
        self.blackholed: list[str] = []
        self.capture: Sidecar | None = None  # its packet capture, when transcripts are on
        self.abort: threading.Event | None = None  # set when the topology's bring-up is given up

    @property
    def name(self) -> str:
        return self.node.name

    def run(self, command: str) -> ExecResult:
        """Run a shell command inside the node; its exit code and output, whatever they are."""
        return self.container.exec(["sh", "-c", command])

    def exec(self, command: list[str] | str) -> str:
        result = self.container.exec(command)
        if not result.ok:
            raise StepError(f"{self.name}: {command!r} failed ({result.code}): {result.output.strip()[-500:]}")
        return result.output

    # ---- bring-up ----------------------------------------------------------------------------
    def create(self) -> None:
        """Make and start the node's container (its main process waits for the start script)."""
        started = time.monotonic()
        self.container.create()
        self.timings["create"] = time.monotonic() - started

    def _probe(self, what: str, probe: Any) -> Any:
        key = (self.container.image_id(), self.kind.name, what)
        with _probe_lock:
            if key in _probed:
                return _probed[key]
        value = probe()
        with _probe_lock:
            _probed[key] = value
        return value

    def configure(self, scenario: Scenario, image: str) -> None:
        """Check the image has the kind's tools, place the rendered files, and apply them
        with the kind's own tools in one script: a config the tools reject fails here,
        with their own message."""
        started = time.monotonic()
        self.kind.prepare(self.container)
        missing = self._probe("tools", lambda: self.kind.missing_tools(self.container))
        if missing:
            raise ImageLacksTools(
                f"node '{self.name}' runs image {image}, which lacks: {', '.join(missing)}; "
                f"a {self.node.kind} node needs {', '.join(self.kind.required_tools)}"
            )
        config = self.kind.render(scenario, self.node)
        self.config = config
        commands = (SEAL_COMMAND, *config.setup)
        self.container.put_files(
            [*config.files, (STOP_SCRIPT, config.stop, 0o755), (SETUP_SCRIPT, setup_script(commands), 0o755)]
        )
        result = self.container.exec(["sh", SETUP_SCRIPT])
        if not result.ok:
            command, output = failed_step(commands, result.output)
            sources = point_at_sources(self.node.files, output)
            where = "".join(f"\nin the user's files: {source}" for _, source in sources)
            raise ConfigRejected(
                f"{self.name} ({self.node.kind}): {command.what} failed with exit {result.code}:\n{output}{where}"
            )
        said = [
            f"{line}\n    in the user's files: {source}"
            for line, source in point_at_sources(self.node.files, result.output)
        ]
        self.notes = list(dict.fromkeys([*config.notes, *said]))
        self.kind.after_setup(self.container, self.node)
        self.version = self._probe("version", lambda: self.kind.version(self.container))
        server = capability(self.node, MailboxServer)
        if server is not None and self.node.mailbox_server is not None:
            self.version += ", " + self._probe("mailbox version", lambda: server.mailbox_version(self.container))
        signer = capability(self.node, DkimSigner)
        if signer is not None and self.node.dkim is not None:
            self.version += ", " + self._probe("dkim version", lambda: signer.dkim_version(self.container))
        self.timings["configure"] = time.monotonic() - started

    def records_to_publish(self) -> tuple[Record, ...]:
        """What the configured node needs the topology's DNS to serve before it starts (a
        DKIM signer's public key)."""
        signer = capability(self.node, DkimSigner)
        if signer is None or self.node.dkim is None:
            return ()
        return signer.dkim_records(self.container, self.node)

    def publish(self, scenario: Scenario, records: tuple[Record, ...]) -> None:
        """Serve the records from this node, a running DNS server, and wait until it does."""
        server = capability(self.node, DnsServer)
        if server is None:
            raise StepError(f"{self.name} is a {self.node.kind} node, not a DNS server")
        started = time.monotonic()
        server.publish(self.container, scenario, records)
        self.timings["publish"] = self.timings.get("publish", 0.0) + time.monotonic() - started

    def start_service(self) -> None:
        """Start the node's service the first time, then wait until it is ready."""
        assert self.config is not None, "configure() first"
        # One archive, the marker last: the entry script starts the node once the marker exists.
        self.container.put_files([(START_SCRIPT, self.config.start, 0o755), (READY_MARKER, "", 0o644)])
        self.wait_ready()

    def wait_ready(self) -> None:
        started = time.monotonic()
        for wait in self.kind.waits(self.node):
            wait_ready(self.container, wait, self.start_timeout, self.log_tail, self.abort)
        self.timings["ready"] = time.monotonic() - started

    def log_tail(self, lines: int = 30) -> str:
        """The end of the node's service log and of its main process's output (either may be empty)."""
        service = self.log_text().splitlines()[-lines:]
        main = self.container.logs().splitlines()[-lines:]
        start = self.container.exec(["cat", START_SCRIPT]).output.strip()
        parts = [f"[{self.kind.log_path or 'service log'}]", *(service or ["(empty)"])]
        parts += ["[main process output]", *(main or ["(empty)"])]
        parts += [f"[{START_SCRIPT}]", start or "(empty)"]
        return "\n".join(parts)

    # ---- observations --------------------------------------------------------------------
    def log_text(self) -> str:
        return self.kind.read_log(self.container)

    def log_lines(self) -> list[LogLine]:
        return self.kind.parse_log(self.log_text())

    def _mta(self) -> Mta:
        mta = capability(self.node, Mta)
        if mta is None:
            raise StepError(f"{self.name} is a {self.node.kind} node, not an MTA")
        return mta

    def deliveries(self, message_id: str | None = None) -> list[Delivery]:
        lines = self.log_lines()
        found = self._mta().deliveries(lines)
        if message_id is None:
            return found
        qids = queue_ids_for(lines, message_id)
        return [d for d in found if d.qid in qids]

    def queue(self) -> list[QueueEntry]:
        return self._mta().queue(self.container)

    def queue_text(self) -> str:
        return self._mta().queue_text(self.container)

    def queued(self, message_id: str) -> list[QueueEntry]:
        qids = queue_ids_for(self.log_lines(), message_id)
        return [entry for entry in self.queue() if entry.qid in qids]

    def _sink(self) -> CaptureSink:
        sink = capability(self.node, CaptureSink)
        if sink is None:
            raise StepError(f"{self.name} is a {self.node.kind} node, not a sink")
        return sink

    def captures(self) -> list[dict[str, Any]]:
        """Every capture so far; only what was recorded since the last call is read."""
        new, self._captures_read = self._sink().captures(self.container, self._captures_read)
        self._captures.extend(new)
        return list(self._captures)

    def reset_captures(self) -> None:
        self._sink().reset_captures(self.container)
        self._captures, self._captures_read = [], 0

    def mailbox(self, user: str) -> str:
        return self.container.read_file(self._mta().mailbox_path(user))

    def address_test(self, address: str, rulesets: str | None = None) -> AddressTest:
        """The MTA's own address test of ``address`` (with ``rulesets`` where it takes them)."""
        tester = capability(self.node, AddressTester)
        if tester is None:
            raise StepError(f"{self.name} is a {self.node.kind} node, which has no address test")
        return tester.address_test(self.container, address, rulesets)

    def state(self) -> list[str]:
        """What a failure report shows besides the log: the queue, the captures."""
        return self.kind.state(self.container)

    # ---- actions ---------------------------------------------------------------------------
    def flush(self) -> None:
        self.exec(self._mta().flush_command())

    def shared_peers(self) -> list[tuple[NodeHandle, list[str], list[str]]]:
        """Each other node on a network this one is on: (node, its addresses there, ours)."""
        mine = {a.network: _addresses(a) for a in self.node.attachments}
        result = []
        for peer in self.peers:
            theirs = [(a.network, _addresses(a)) for a in peer.node.attachments if a.network in mine]
            if theirs:
                result.append(
                    (peer, [ip for _, ips in theirs for ip in ips], [ip for net, _ in theirs for ip in mine[net]])
                )
        return result

    def stop(self) -> None:
        """Stop the container: its addresses vanish. Every peer forgets the link-layer
        address it knew for them, so that each later connect meets the same state (the
        kernel resolves the address anew and fails: "No route to host" after about 3 s, or
        the client's own connect timeout if that is shorter), whatever was sent before."""
        self.container.stop()
        for peer, _theirs, ours in self.shared_peers():
            peer.forget(ours)

    def forget(self, addresses: list[str]) -> None:
        """Drop the link-layer addresses this node knew for ``addresses`` (if it runs)."""
        if self.container.status() == "running":
            self.container.exec(["sh", "-c", "; ".join(f"ip neigh flush to {ip}" for ip in addresses) + "; true"])

    def blackhole(self) -> None:
        """Drop what the node would answer to its peers, as a firewall that drops packets:
        its services run, but every connection to it times out ("Connection timed out")."""
        routes = sorted({ip for _peer, theirs, _ours in self.shared_peers() for ip in theirs})
        self.exec("; ".join(f"ip route replace blackhole {_host_route(ip)}" for ip in routes) or "true")
        self.blackholed = routes

    def unblackhole(self) -> None:
        self.exec("; ".join(f"ip route del blackhole {_host_route(ip)}" for ip in self.blackholed) or "true")
        self.blackholed = []

    def start(self) -> None:
        self.container.start()
        if self.capture is not None:  # the node has a new network namespace: capture there
            self.capture.restart()
        self.wait_ready()

    def refuse(self) -> None:
        self.exec(["sh", STOP_SCRIPT])

    def restore(self) -> None:
        self.exec(["sh", START_SCRIPT])
        self.wait_ready()

    def disconnect(self, network: str | None = None) -> None:
        """Cut the node off a network; its peers there forget its link-layer address, as
        after ``stop``."""
        net = network or self.node.attachments[0].network
        self.container.disconnect(self.networks.name(net))
        ours = [ip for a in self.node.attachments if a.network == net for ip in _addresses(a)]
        for peer, _theirs, _ours in self.shared_peers():
            if any(a.network == net for a in peer.node.attachments):
                peer.forget(ours)

    def reconnect(self, network: str | None = None) -> None:
        net = network or self.node.attachments[0].network
        attachment = next(a for a in self.node.attachments if a.network == net)
        self.container.reconnect(self.networks.name(net), str(attachment.ip), str(attachment.ip6 or "") or None)
        self.exec(f"{DROP_DEFAULT_ROUTE}; {ADD_HOSTS}")
