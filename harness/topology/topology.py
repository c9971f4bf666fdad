"""A running topology: networks, then every node configured at once, DNS started first,
then the rest, each with a readiness wait.

Works as a plain context manager::

    with Topology(load_scenario("scenarios/smoke.yaml"), suite="bookworm") as topo:
        topo.send("m1", source="pf", to=["bob@remote.test"])

Teardown always happens (pass, fail, Ctrl-C); whatever a killed run left is removed when
the next one starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import docker.errors

from harness.core import engine
from harness.core.container import NodeContainer
from harness.core.images import ensure_image
from harness.core.subnets import SubnetLock
from harness.errors import HarnessError, StepError
from harness.kinds import CaptureSink, DnsServer, MailboxServer, Mta, SmtpClient, capability, kind_of
from harness.messages import compose
from harness.observe import transcripts
from harness.render.common import dns_address_for
from harness.scenario.model import DEFAULT_SUITE, Scenario
from harness.topology.agents import agent_answer
from harness.topology.capture import CAPTURE_IMAGE, Sidecar
from harness.topology.fetching import STANDARD_PORTS, Fetched, fetch_mailbox
from harness.topology.networks import Networks
from harness.topology.node import NodeHandle
from harness.topology.sending import Sent, smtp_session, smtp_sessions, submit

log = logging.getLogger(__name__)
T = TypeVar("T")


def in_parallel(
    items: list[T], work: Callable[[T], object], on_error: Callable[[], None] | None = None, workers: int = 8
) -> None:
    """Run ``work`` on every item at once; the first failure is raised.

    On a failure, or Ctrl-C in the calling thread, ``on_error`` tells the work still running
    to give up, and work not started yet is cancelled: nothing outlives the call for long."""
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)))
    try:
        for future in [pool.submit(work, item) for item in items]:
            future.result()
    except BaseException:
        if on_error is not None:
            on_error()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


class Topology:
    """Start a scenario's topology on one suite; tear it down on exit."""

    def __init__(
        self,
        scenario: Scenario,
        suite: str = DEFAULT_SUITE,
        keep: bool = False,
        start_timeout: float = 90.0,
        transcripts: bool = False,
    ) -> None:
        self.scenario = scenario
        # Record every SMTP session (a packet capture beside each MTA and sink): asked for by
        # the run or by the scenario.
        self.transcripts = transcripts or scenario.transcripts
        self.suite = suite
        self.keep = keep
        self.start_timeout = start_timeout
        self.run_id = engine.new_run_id()
        self.networks = Networks(scenario, self.run_id)
        self.nodes: dict[str, NodeHandle] = {}
        self.sent: dict[str, Sent] = {}
        self.fetched: dict[str, Fetched] = {}
        self.timings: dict[str, float] = {}
        self.images: dict[str, str] = {}
        self.captures: dict[str, Sidecar] = {}
        self.capture_problems: list[str] = []
        self.subnet_lock = SubnetLock(n.subnet for n in scenario.networks)

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
        topology.networks = Networks(scenario, topology.run_id)
        by_node = {c.labels.get(engine.LABEL_NODE): c for c in containers}
        for node in scenario.nodes:
            if node.name not in by_node:
                raise HarnessError(f"node '{node.name}' of the running topology '{scenario.name}' is gone")
            container = NodeContainer.existing(by_node[node.name], topology.networks.attachments(node))
            handle = NodeHandle(node, container, topology.networks, topology.start_timeout)
            handle.version = handle.kind.version(container)
            handle.notes = list(handle.kind.render(scenario, node).notes)
            topology.nodes[node.name] = handle
        for handle in topology.nodes.values():
            handle.peers = [h for h in topology.nodes.values() if h is not handle]
        return topology

    # ---- naming ----------------------------------------------------------------------------
    def network_name(self, network: str) -> str:
        return self.networks.name(network)

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
        self.subnet_lock.acquire()  # an overlapping topology of another run finishes first
        self.timings["wait for subnets"] = time.monotonic() - started
        engine.reap_orphans()
        try:
            self._images()
            self.timings["images"] = time.monotonic() - started
            self.networks.create(self.labels())
            self.timings["networks"] = time.monotonic() - started
            self._create_containers()
            self._configure_and_start()
        except BaseException:
            self.down()
            raise
        for name, handle in self.nodes.items():
            for what, seconds in handle.timings.items():
                self.timings[f"{what}:{name}"] = seconds
        self.timings["up"] = time.monotonic() - started

    def down(self) -> None:
        try:
            engine.remove_run(self.run_id)
        except docker.errors.DockerException as exc:  # pragma: no cover - engine gone
            log.warning("teardown of run %s failed: %s", self.run_id, exc)
        finally:
            self.subnet_lock.release()

    def _images(self) -> None:
        wanted = {}
        for node in self.scenario.nodes:
            kind = kind_of(node)
            if node.image:
                self.images[node.name] = node.image
            else:
                wanted[node.name] = (kind, kind.image_suite(self.suite))
        tags: dict[tuple[str, str], str] = {}
        for kind, suite in wanted.values():
            if (kind.image, suite) not in tags:
                tags[(kind.image, suite)] = ensure_image(kind, suite)
        for name, (kind, suite) in wanted.items():
            self.images[name] = tags[(kind.image, suite)]

    def _create_containers(self) -> None:
        """The node handles; each container is made by its node's bring-up."""
        for node in self.scenario.nodes:
            labels = {**self.labels(), engine.LABEL_NODE: node.name, engine.LABEL_KIND: node.kind}
            container = NodeContainer(
                name=self.container_name(node.name),
                image=self.images[node.name],
                hostname=node.hostname,
                labels=labels,
                attachments=self.networks.attachments(node),
            )
            self.nodes[node.name] = NodeHandle(node, container, self.networks, self.start_timeout)
        for handle in self.nodes.values():
            handle.peers = [h for h in self.nodes.values() if h is not handle]

    def _sidecars(self) -> None:
        """A packet capture beside every node that serves SMTP (when transcripts are on),
        each started once its node's container exists."""
        if not self.transcripts:
            return
        image = ensure_image(CAPTURE_IMAGE, CAPTURE_IMAGE.suite)
        for handle in self.nodes.values():
            if capability(handle.node, Mta) or capability(handle.node, CaptureSink):
                labels = {**self.labels(), engine.LABEL_KIND: CAPTURE_IMAGE.image}
                handle.capture = self.captures[handle.name] = Sidecar(handle.name, handle.container, image, labels)

    def sessions(self) -> list[transcripts.Session]:
        """Every SMTP session so far, from the captures (none when transcripts are off).

        A capture that cannot be read is named in ``capture_problems`` and the others are
        read all the same."""
        captured: list[tuple[str, bytes]] = []
        self.capture_problems = []
        for name, sidecar in self.captures.items():
            try:
                captured += [(name, data) for data in sidecar.pcaps()]
            except HarnessError as exc:
                self.capture_problems.append(str(exc))
        return transcripts.sessions(captured, self.node_at)

    def _configure_and_start(self) -> None:
        """Every node is brought up at once: its container made, its packet capture started
        beside it (with transcripts), its configuration applied (nothing in a node's setup
        asks DNS). The DNS server starts as soon as it is configured, every other node once
        it is configured and the DNS server answers, as it looks names up from then on; each
        node's service starts once its capture listens (so that every session is seen from
        its connect). What a configured node needs the DNS to serve (a DKIM signer's public
        key) is published before it starts."""
        self._sidecars()
        handles = list(self.nodes.values())
        dns = [h for h in handles if capability(h.node, DnsServer)]
        dns_up, abort = threading.Event(), threading.Event()
        capture_pool = ThreadPoolExecutor(max_workers=4)
        try:
            self._bring_up(handles, dns, dns_up, abort, capture_pool)
        finally:
            capture_pool.shutdown(wait=True, cancel_futures=True)

    def _bring_up(
        self,
        handles: list[NodeHandle],
        dns: list[NodeHandle],
        dns_up: threading.Event,
        abort: threading.Event,
        capture_pool: ThreadPoolExecutor,
    ) -> None:
        started = time.monotonic()

        def start_capture(sidecar: Sidecar) -> None:
            sidecar.start()
            self.timings[f"capture:{sidecar.node}"] = time.monotonic() - started

        def bring_up(handle: NodeHandle) -> None:
            handle.create()
            capture = capture_pool.submit(start_capture, handle.capture) if handle.capture is not None else None
            handle.configure(self.scenario, self.images[handle.name])
            if capture is not None:
                capture.result()
            if handle in dns:
                handle.start_service()
                if all("ready" in h.timings for h in dns):
                    dns_up.set()
                return
            deadline = time.monotonic() + self.start_timeout
            while not dns_up.wait(0.05):
                if abort.is_set() or time.monotonic() > deadline:
                    raise HarnessError(f"{handle.name} not started: the DNS server did not come up")
            records = handle.records_to_publish()
            for server in dns if records else []:
                server.publish(self.scenario, records)
            handle.start_service()

        if not dns:
            dns_up.set()
        for handle in handles:
            handle.abort = abort
        # one thread per node: every node waits for the DNS server, which must not wait for a thread
        in_parallel(handles, bring_up, on_error=abort.set, workers=len(handles))

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
        tls: str | None = None,
        client: str | None = None,
        subject: str | None = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Sent:
        """Send a message: an SMTP session from a client/sink node, or a local submission at an MTA."""
        handle = self.node(source)
        sender = mail_from or f"tester@{handle.node.hostname}"
        message = compose(name, self.run_id, sender, to, subject=subject, body=body, headers=headers)
        if capability(handle.node, SmtpClient):
            if server_ip is None:
                if server is None:
                    raise StepError(f"an SMTP send from {source} needs a server")
                server_ip = self.networks.address_seen_from(server, seen_from=handle.node)
            sent = smtp_session(
                handle,
                name,
                message,
                server or server_ip,
                server_ip,
                port=port,
                helo=helo,
                auth=auth,
                starttls=starttls,
                tls=tls,
                client=client,
            )
        else:
            sent = submit(handle, name, message)
        self.sent[name] = sent
        return sent

    def send_batch(
        self,
        batch: str,
        source: str,
        server: str,
        messages: list[tuple[str, list[str], str | None, str | None]],
        port: int = 25,
    ) -> list[Sent]:
        """SMTP sessions from ``source`` to ``server``, one per (name, recipients, envelope
        sender, subject), in order, in one run of the client's agent."""
        handle = self.node(source)
        server_ip = self.networks.address_seen_from(server, seen_from=handle.node)
        composed = [
            (name, compose(name, self.run_id, mail_from or f"tester@{handle.node.hostname}", to, subject=subject))
            for name, to, mail_from, subject in messages
        ]
        sents = smtp_sessions(handle, batch, composed, server, server_ip, port)
        for sent in sents:
            self.sent[sent.name] = sent
        return sents

    def fetch(
        self,
        name: str,
        source: str,
        server: str,
        protocol: str,
        user: str,
        password: str,
        port: int | None = None,
        delete: bool = False,
    ) -> Fetched:
        """Fetch a user's mailbox at ``server`` over POP3 or IMAP, from a client or sink node."""
        handle = self.node(source)
        server_ip = self.networks.address_seen_from(server, seen_from=handle.node)
        if port is None:
            mailbox_server = capability(self.scenario.node(server), MailboxServer)
            port = mailbox_server.mailbox_port(protocol) if mailbox_server else STANDARD_PORTS[protocol]
        fetched = fetch_mailbox(handle, name, server, server_ip, protocol, port, user, password, delete=delete)
        self.fetched[name] = fetched
        return fetched

    def address_seen_from(self, node_name: str, seen_from: str, family: int = 4) -> str:
        """The address of ``node_name`` on a network it shares with the node ``seen_from``
        (its IPv6 address there with ``family`` 6)."""
        return self.networks.address_seen_from(node_name, self.scenario.node(seen_from), family)

    def address_of(self, node_name: str) -> set[str]:
        return self.networks.addresses_of(node_name)

    def node_at(self, address: str) -> str | None:
        """The node that has ``address``."""
        return self.networks.node_at(address)

    def sinks(self) -> list[str]:
        """The nodes that capture mail."""
        return [n.name for n in self.scenario.nodes if capability(n, CaptureSink)]

    def dns_query(self, name: str, rtype: str) -> dict[str, Any]:
        """Ask the topology's DNS server, from a node inside the topology that can (dnspython)."""
        server = self.scenario.dns_node
        if server is None:
            raise HarnessError(f"scenario '{self.scenario.name}' has no DNS server to ask")
        asker = next((n for n in self.scenario.nodes if capability(n, SmtpClient)), None)
        if asker is None:
            raise HarnessError("asking DNS needs a client or sink node in the topology (it runs dnspython)")
        client = capability(asker, SmtpClient)
        assert client is not None
        ip = dns_address_for(self.scenario, asker, server)
        handle = self.node(asker.name)
        return agent_answer(handle, "DNS client", handle.exec(client.dns_query_command(ip, name, rtype)))

    # ---- description ---------------------------------------------------------------------------
    def describe(self) -> str:
        lines = [f"topology '{self.scenario.name}' on {self.suite} (run {self.run_id})"]
        for handle in self.nodes.values():
            addresses = ", ".join(
                f"{a.network}={a.ip}" + (f",{a.ip6}" if a.ip6 is not None else "") for a in handle.node.attachments
            )
            lines.append(
                f"  {handle.name:<10} {handle.node.kind:<8} {handle.node.hostname:<24} {addresses:<28} "
                f"{handle.version}  [docker exec -it {handle.container.name} bash]"
            )
            lines += [f"    {note}" for note in handle.notes]
        return "\n".join(lines)
