"""OpenDKIM as the DKIM signer of an MTA node (Debian's opendkim and opendkim-tools, in the
postfix and sendmail images): a milter on the node's loopback that signs the mail the MTA
sends for the domains of the node's ``dkim:`` key, with a key ``opendkim-genkey`` makes in
the node when it is configured. Nothing of OpenDKIM runs on a node without that key.

Not a kind of its own: the MTA kinds have the :class:`OpenDkim` capability, add its part to
their configuration (:meth:`OpenDkim.with_dkim`; their own render tells the MTA about the
milter) and hand the harness the key's TXT records (:meth:`OpenDkim.dkim_records`), which
the topology publishes in its DNS before the MTA starts."""

from __future__ import annotations

import re
from typing import ClassVar

from harness.core.container import NodeContainer
from harness.kinds.base import DkimSigner
from harness.kinds.opendkim import render, settings
from harness.render.common import NodeConfig
from harness.scenario.model import DkimSigning, Node, Record, Scenario
from harness.scenario.reader import Reader
from harness.scenario.source import PathT


class OpenDkim(DkimSigner):
    """The DkimSigner capability, with OpenDKIM."""

    # Where OpenDKIM's syslog lines go (the sendmail kind's mail log; a file of its own
    # beside Postfix's maillog_file).
    dkim_log_path: ClassVar[str]

    def parse_dkim(self, reader: Reader, path: PathT) -> DkimSigning:
        return settings.parse(reader, path)

    def with_dkim(self, config: NodeConfig, scenario: Scenario, node: Node) -> NodeConfig:
        """The MTA's configuration, and OpenDKIM's if the node signs with DKIM."""
        if node.dkim is None:
            return config
        return render.add_to(config, scenario, node, node.dkim, self.dkim_log_path)

    def dkim_records(self, container: NodeContainer, node: Node) -> tuple[Record, ...]:
        if node.dkim is None:
            return ()
        return render.records(node.dkim, container.read_file(render.record_file(node.dkim)))

    def dkim_version(self, container: NodeContainer) -> str:
        output = container.exec(["opendkim", "-V"]).output
        match = re.search(r"OpenDKIM Filter v(\S+)", output)
        return "OpenDKIM " + (match.group(1) if match else output.strip()[:40])
