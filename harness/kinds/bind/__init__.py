"""BIND nodes: the topology's DNS, authoritative for a fake root and every scenario zone."""

from __future__ import annotations

import shlex
import threading
from pathlib import Path

from harness.core.container import NodeContainer
from harness.core.waits import DnsAnswerWait, Poll, Wait, poll_until
from harness.errors import HarnessError
from harness.kinds.base import BASE_TOOLS, DnsServer, Kind, NoSettings
from harness.kinds.bind import render
from harness.render.common import NodeConfig
from harness.scenario.model import Node, Record, Scenario

# How long a reloaded zone may take to serve what was added (measured: well under a second).
PUBLISH_WITHIN = 10.0


class BindKind(Kind[NoSettings], DnsServer):
    name = "bind"
    image = "bind"
    package_dir = Path(__file__).resolve().parent
    log_path = "/var/log/named.log"
    plain_start = "exec named -g -u bind"
    required_tools = (*BASE_TOOLS, "named", "named-checkconf", "named-checkzone", "dig")

    def render_settings(self, scenario: Scenario, node: Node, settings: NoSettings) -> NodeConfig:
        return render.render(scenario, node)

    def waits(self, node: Node) -> list[Wait]:
        return [DnsAnswerWait(".")]

    def plain_waits(self, node: Node) -> list[Wait]:
        return [DnsAnswerWait("localhost")]  # Debian's default zones; the root is only hints

    def version(self, container: NodeContainer) -> str:
        return container.exec(["named", "-v"]).output.strip()

    # Signers publish at once, often into the same zone: one edit of a zone file at a time.
    _publishing = threading.Lock()

    def publish(self, container: NodeContainer, scenario: Scenario, records: tuple[Record, ...]) -> None:
        """Add the records to their zones' files (serial one higher), let named-checkzone
        judge each file, ``rndc reload`` the zone (Debian's rndc.key: named's default control
        channel on loopback), then ask the server itself until it serves every record."""
        by_zone: dict[tuple[str, str], list[Record]] = {}
        for record in records:
            zone = render.zone_file_of(scenario, record.owner)
            if zone is None:
                raise HarnessError(f"no zone of scenario '{scenario.name}' holds {record.owner}")
            by_zone.setdefault(zone, []).append(record)
        with self._publishing:
            for (origin, path), added in by_zone.items():
                text = render.with_records(container.read_file(path), tuple(added), "published at start")
                container.put_files([(path, text, 0o644)])
                for argv in (["named-checkzone", "-k", "fail", origin, path], ["rndc", "reload", origin]):
                    result = container.exec(argv)
                    # 'up-to-date': named took the file for one it has loaded already
                    if not result.ok or "up-to-date" in result.output:
                        raise HarnessError(
                            f"publishing in zone {origin}: {shlex.join(argv)} failed: {result.output.strip()}"
                        )
        for record in records:
            self._wait_served(container, record)

    def _wait_served(self, container: NodeContainer, record: Record) -> None:
        argv = ["dig", "@127.0.0.1", "+short", "+norecurse", record.owner, record.rtype]
        wanted = " ".join(record.rdata.split())

        def served() -> Poll[str]:
            answer = container.exec(argv).output.strip()
            return Poll(" ".join(answer.split()) == wanted, answer)

        seen = poll_until(served, PUBLISH_WITHIN)
        if not seen.done:
            raise HarnessError(
                f"the DNS server does not serve the published {record.rtype} record at {record.owner} "
                f"after {PUBLISH_WITHIN:.0f} s (it answers: {seen.value or 'nothing'})"
            )


KIND = BindKind()
