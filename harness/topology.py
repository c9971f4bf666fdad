"""A running topology: networks, then DNS, then MTAs and sinks, each with a readiness wait.

Works as a plain context manager::

    with Topology(load_scenario("scenarios/smoke.yaml"), suite="bookworm") as topo:
        topo.send("m1", source="pf", to=["bob@remote.test"])

Teardown always happens (pass, fail, Ctrl-C); whatever a killed run left is removed when
the next one starts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import docker.errors

from harness.core import engine
from harness.core.container import NodeContainer
from harness.core.images import ensure_image
from harness.core.waits import wait_ready
from harness.errors import ConfigRejected, HarnessError, ImageLacksTools, StepError
from harness.messages import Message, compose
from harness.observe import logs as logparse
from harness.observe.queue import QueueEntry
from harness.render.common import DROP_DEFAULT_ROUTE, RESOLV_CONF, Command, NodeConfig
from harness.render.sink import AGENT
from harness.scenario.model import DEFAULT_SUITE, Node, Scenario
from harness.services import Service, service_for
from harness.services.sink import SinkService

log = logging.getLogger(__name__)
T = TypeVar("T")
SEAL_COMMAND = Command(
    "seal the node (the topology's DNS, no default route)",
    ("sh", "-c", f"cp {RESOLV_CONF} /etc/resolv.conf && {{ {DROP_DEFAULT_ROUTE}; }}"),
)


@dataclass
class SmtpReply:
    stage: str
    code: int
    text: str
    argument: str = ""

    def __str__(self) -> str:
        arg = f" [{self.argument}]" if self.argument else ""
        lines = self.text.splitlines() or [""]
        more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
        return f"{self.stage}{arg}: {self.code} {lines[0]}{more}"


@dataclass
class Sent:
    """A message the harness sent, and how it went."""

    name: str
    message: Message
    source: str
    server: str | None = None
    transcript: list[SmtpReply] = field(default_factory=list)
    error: str | None = None
    submit_output: str = ""

    @property
    def accepted(self) -> bool:
        if self.server is None:
            return self.error is None
        return any(r.stage == "data" and 200 <= r.code < 300 for r in self.transcript)

    def describe(self) -> str:
        lines = [
            f"message '{self.name}' {self.message.message_id} from {self.source}"
            + (f" to server {self.server}" if self.server else " (local submission)")
        ]
        lines += [f"  {reply}" for reply in self.transcript]
        if self.error:
            lines.append(f"  error: {self.error}")
        if self.submit_output.strip():
            lines.append(f"  submission said: {self.submit_output.strip()}")
        return "\n".join(lines)


class NodeHandle:
    """A node of a running topology: its model, its service, its container."""

    def __init__(self, topology: Topology, node: Node, service: Service, container: NodeContainer) -> None:
        self.topology = topology
        self.node = node
        self.service = service
        self.container = container
        self.config: NodeConfig | None = None
        self.version = ""
        self.disconnected: set[str] = set()

    @property
    def name(self) -> str:
        return self.node.name

    def exec(self, command: list[str] | str) -> str:
        result = self.container.exec(command)
        if not result.ok:
            raise StepError(f"{self.name}: {command!r} failed ({result.code}): {result.output.strip()[-500:]}")
        return result.output

    # ---- observations --------------------------------------------------------------------
    def log_text(self) -> str:
        return self.service.read_log(self.container)

    def log_lines(self) -> list[logparse.LogLine]:
        return logparse.parse_lines(self.log_text())

    def deliveries(self, message_id: str | None = None) -> list[logparse.Delivery]:
        lines = self.log_lines()
        found = logparse.deliveries(lines)
        if message_id is None:
            return found
        qids = logparse.queue_ids_for(lines, message_id)
        return [d for d in found if d.qid in qids]

    def queue(self) -> list[QueueEntry]:
        return self.service.queue(self.container)

    def queued(self, message_id: str) -> list[QueueEntry]:
        qids = logparse.queue_ids_for(self.log_lines(), message_id)
        return [entry for entry in self.queue() if entry.qid in qids]

    def captures(self) -> list[dict[str, Any]]:
        if not isinstance(self.service, SinkService):
            raise StepError(f"{self.name} is a {self.node.kind} node, not a sink")
        return self.service.captures(self.container)

    def reset_captures(self) -> None:
        if isinstance(self.service, SinkService):
            self.service.reset(self.container)

    def mailbox(self, user: str) -> str:
        return self.container.read_file(self.service.mailbox_path(user))

    # ---- actions ---------------------------------------------------------------------------
    def flush(self) -> None:
        self.exec(self.service.flush_command())

    def stop(self) -> None:
        self.container.stop()

    def start(self) -> None:
        self.container.start()
        self.topology._wait_node(self)

    def refuse(self) -> None:
        self.exec(["sh", "/etc/harness/stop.sh"])

    def restore(self) -> None:
        self.exec(["sh", "/etc/harness/start.sh"])
        self.topology._wait_node(self)

    def disconnect(self, network: str | None = None) -> None:
        net = network or self.node.attachments[0].network
        self.container.disconnect(self.topology.network_name(net))
        self.disconnected.add(net)

    def reconnect(self, network: str | None = None) -> None:
        net = network or self.node.attachments[0].network
        ip = next(str(a.ip) for a in self.node.attachments if a.network == net)
        self.container.reconnect(self.topology.network_name(net), ip)
        self.exec(DROP_DEFAULT_ROUTE)
        self.disconnected.discard(net)


class Topology:
    """Start a scenario's topology on one suite; tear it down on exit."""

    def __init__(
        self, scenario: Scenario, suite: str = DEFAULT_SUITE, keep: bool = False, start_timeout: float = 90.0
    ) -> None:
        self.scenario = scenario
        self.suite = suite
        self.keep = keep
        self.start_timeout = start_timeout
        self.run_id = engine.new_run_id()
        self.nodes: dict[str, NodeHandle] = {}
        self.sent: dict[str, Sent] = {}
        self.timings: dict[str, float] = {}
        self._networks: list[str] = []
        self._up = False

    @classmethod
    def attach(cls, scenario: Scenario) -> Topology:
        """The running topology of ``scenario`` left up by 'mta-harness up'."""
        client = engine.client()
        containers = client.containers.list(
            filters={"label": [f"{engine.LABEL_SCENARIO}={scenario.name}", f"{engine.LABEL_KEEP}=true"]}
        )
        runs = {c.labels.get(engine.LABEL_RUN, "") for c in containers}
        if len(runs) != 1:
            raise HarnessError(
                f"{len(runs)} running topologies of scenario '{scenario.name}'; start one with 'mta-harness up {scenario.name}'"
                if not runs
                else f"several running topologies of '{scenario.name}' ({', '.join(sorted(runs))}); remove them with 'mta-harness down'"
            )
        topology = cls(
            scenario, suite=containers[0].labels.get(f"{engine.LABEL_PREFIX}.suite", DEFAULT_SUITE), keep=True
        )
        topology.run_id = runs.pop()
        by_node = {c.labels.get(engine.LABEL_NODE): c for c in containers}
        for node in scenario.nodes:
            if node.name not in by_node:
                raise HarnessError(f"node '{node.name}' of the running topology '{scenario.name}' is gone")
            attachments = [(topology.network_name(a.network), str(a.ip)) for a in node.attachments]
            handle = NodeHandle(
                topology, node, service_for(node.kind), NodeContainer.existing(by_node[node.name], attachments)
            )
            handle.version = handle.service.version(handle.container)
            topology.nodes[node.name] = handle
        topology._up = True
        return topology

    # ---- naming ----------------------------------------------------------------------------
    def network_name(self, network: str) -> str:
        return f"mh-{self.run_id}-{network}"

    def container_name(self, node: str) -> str:
        return f"mh-{self.run_id}-{self.scenario.name[:30]}-{node}"

    def labels(self) -> dict[str, str]:
        labels = engine.run_labels(self.run_id, self.scenario.name)
        labels[f"{engine.LABEL_PREFIX}.suite"] = self.suite
        if self.keep:
            labels[engine.LABEL_KEEP] = "true"
        return labels

    def node(self, name: str) -> NodeHandle:
        try:
            return self.nodes[name]
        except KeyError:
            raise HarnessError(f"scenario '{self.scenario.name}' has no node '{name}'") from None

    # ---- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Topology:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.keep:
            self.down()

    def up(self) -> None:
        if self.suite not in self.scenario.suites:
            raise HarnessError(
                f"scenario '{self.scenario.name}' does not run on {self.suite} (suites: {', '.join(self.scenario.suites)})"
            )
        started = time.monotonic()
        engine.client()
        engine.reap_orphans()
        try:
            self._images()
            self.timings["images"] = time.monotonic() - started
            self._create_networks()
            self._create_containers()
            self._configure_and_start()
            self._up = True
        except BaseException:
            self.down()
            raise
        self.timings["up"] = time.monotonic() - started

    def down(self) -> None:
        try:
            engine.remove_run(self.run_id)
        except docker.errors.DockerException as exc:  # pragma: no cover - engine gone
            log.warning("teardown of run %s failed: %s", self.run_id, exc)
        self._up = False

    def _parallel(self, items: list[T], work: Callable[[T], object]) -> None:
        if not items:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
            for future in [pool.submit(work, item) for item in items]:
                future.result()

    def _images(self) -> None:
        self.images: dict[str, str] = {}
        wanted = {}
        for node in self.scenario.nodes:
            service = service_for(node.kind)
            if node.image:
                self.images[node.name] = node.image
            else:
                wanted[node.name] = (service.image_kind, service.image_suite(self.suite))
        tags: dict[tuple[str, str], str] = {}
        for key in sorted(set(wanted.values())):
            tags[key] = ensure_image(*key)
        for name, key in wanted.items():
            self.images[name] = tags[key]

    def _create_networks(self) -> None:
        client = engine.client()
        for net in self.scenario.networks:
            name = self.network_name(net.name)
            ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(net.subnet))])
            try:
                client.networks.create(
                    name, driver="bridge", internal=True, ipam=ipam, labels=self.labels(), check_duplicate=True
                )
            except docker.errors.APIError as exc:
                if "overlaps" in str(exc):
                    raise HarnessError(
                        f"network '{net.name}' ({net.subnet}) of scenario '{self.scenario.name}' overlaps a network "
                        "that already exists on the engine (another topology running?); stop it with "
                        "'mta-harness down' or pick another subnet"
                    ) from exc
                raise
            self._networks.append(name)

    def _create_containers(self) -> None:
        for node in self.scenario.nodes:
            labels = {**self.labels(), engine.LABEL_NODE: node.name, engine.LABEL_KIND: node.kind}
            container = NodeContainer(
                name=self.container_name(node.name),
                image=self.images[node.name],
                hostname=node.hostname,
                labels=labels,
                attachments=[(self.network_name(a.network), str(a.ip)) for a in node.attachments],
            )
            self.nodes[node.name] = NodeHandle(self, node, service_for(node.kind), container)
        self._parallel(list(self.nodes.values()), lambda handle: handle.container.create())

    def _configure_and_start(self) -> None:
        """DNS first (others look names up while configuring), then everything else at once."""
        dns = self.scenario.dns_node
        first = [self.nodes[dns.name]] if dns else []
        rest = [h for h in self.nodes.values() if h not in first]
        for group in (first, rest):
            self._parallel(group, self._configure_node)
            self._parallel(group, self._start_node)

    def _configure_node(self, handle: NodeHandle) -> None:
        started = time.monotonic()
        handle.service.prepare(handle.container)
        missing = handle.service.missing_tools(handle.container)
        if missing:
            raise ImageLacksTools(
                f"node '{handle.name}' runs image {self.images[handle.name]}, which lacks: {', '.join(missing)}; "
                f"a {handle.node.kind} node needs {', '.join(handle.service.required_tools)}"
            )
        config = handle.service.render(self.scenario, handle.node)
        handle.config = config
        handle.container.put_files([*config.files, ("/etc/harness/stop.sh", config.stop, 0o755)])
        for command in (SEAL_COMMAND, *config.setup):
            result = handle.container.exec(list(command.argv))
            if not result.ok:
                raise ConfigRejected(
                    f"{handle.name} ({handle.node.kind}): {command.what} failed with exit {result.code}:\n{result.output.strip()}"
                )
        handle.service.after_setup(handle.container, handle.node)
        handle.version = handle.service.version(handle.container)
        self.timings[f"configure:{handle.name}"] = time.monotonic() - started

    def _start_node(self, handle: NodeHandle) -> None:
        assert handle.config is not None
        # One archive, the marker last: the entry script starts the node once the marker exists.
        handle.container.put_files(
            [("/etc/harness/start.sh", handle.config.start, 0o755), ("/etc/harness/start.ready", "", 0o644)]
        )
        self._wait_node(handle)

    def _wait_node(self, handle: NodeHandle) -> None:
        for wait in handle.service.waits(handle.node):
            took = wait_ready(handle.container, wait, self.start_timeout, lambda: _tail(handle))
            self.timings[f"ready:{handle.name}"] = took

    # ---- sending -------------------------------------------------------------------------------
    def send(
        self,
        name: str,
        source: str,
        to: list[str],
        mail_from: str | None = None,
        server: str | None = None,
        server_ip: str | None = None,
        port: int = 25,
        helo: str | None = None,
        auth: dict[str, str] | None = None,
        starttls: bool = False,
        subject: str | None = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Sent:
        """Send a message: an SMTP session from a client/sink node, or a local submission at an MTA."""
        handle = self.node(source)
        sender = mail_from or f"tester@{handle.node.hostname}"
        message = compose(name, self.run_id, sender, to, subject=subject, body=body, headers=headers)
        path = f"/tmp/harness-{name}.eml"
        if handle.node.kind in ("client", "sink"):
            if server_ip is None:
                if server is None:
                    raise StepError(f"an SMTP send from {source} needs a server")
                server_ip = self.address_seen_from(server, seen_from=handle.node)
            request = {
                "host": server_ip,
                "port": port,
                "helo": helo or handle.node.hostname,
                "mail_from": sender,
                "rcpt_to": to,
                "message": message.base64(),
                "auth": auth,
                "starttls": starttls,
                "timeout": 30,
            }
            handle.container.put_files([(f"/tmp/harness-{name}.json", json.dumps(request), 0o644)])
            output = handle.container.exec(["python3", f"{AGENT}/smtp_send.py", f"/tmp/harness-{name}.json"]).output
            try:
                result = json.loads(output.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise StepError(f"the SMTP client on {source} failed: {output.strip()[-800:]}") from None
            sent = Sent(
                name,
                message,
                source,
                server=server or server_ip,
                transcript=[
                    SmtpReply(r["stage"], r["code"], r["text"], r.get("argument", "")) for r in result["transcript"]
                ],
                error=result.get("error"),
            )
        else:
            handle.container.put_files([(path, message.raw, 0o644)])
            result_exec = handle.container.exec(handle.service.submit_command(sender, to, path))
            sent = Sent(
                name,
                message,
                source,
                error=None if result_exec.ok else f"exit {result_exec.code}",
                submit_output=result_exec.output,
            )
        self.sent[name] = sent
        return sent

    def address_seen_from(self, node_name: str, seen_from: Node) -> str:
        """The address of ``node_name`` on a network it shares with ``seen_from``."""
        target = self.scenario.node(node_name)
        shared = {a.network for a in seen_from.attachments}
        for attachment in target.attachments:
            if attachment.network in shared:
                return str(attachment.ip)
        raise StepError(f"{seen_from.name} shares no network with {node_name}")

    def address_of(self, node_name: str) -> set[str]:
        return {str(a.ip) for a in self.scenario.node(node_name).attachments}

    # ---- description ---------------------------------------------------------------------------
    def describe(self) -> str:
        lines = [f"topology '{self.scenario.name}' on {self.suite} (run {self.run_id})"]
        for handle in self.nodes.values():
            addresses = ", ".join(f"{a.network}={a.ip}" for a in handle.node.attachments)
            lines.append(
                f"  {handle.name:<10} {handle.node.kind:<8} {handle.node.hostname:<24} {addresses:<28} "
                f"{handle.version}  [docker exec -it {handle.container.name} bash]"
            )
        return "\n".join(lines)


def _tail(handle: NodeHandle, lines: int = 30) -> str:
    """The end of the node's service log and of its main process's output (either may be empty)."""
    service = handle.log_text().splitlines()[-lines:]
    main = handle.container.logs().splitlines()[-lines:]
    start = handle.container.exec(["cat", "/etc/harness/start.sh"]).output.strip()
    parts = [f"[{handle.service.log_path or 'service log'}]", *(service or ["(empty)"])]
    parts += ["[main process output]", *(main or ["(empty)"])]
    parts += ["[/etc/harness/start.sh]", start or "(empty)"]
    return "\n".join(parts)
