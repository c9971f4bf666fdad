"""Record what a real run of a scenario leaves for the path builder, as test data.

    .venv/bin/python tests/unit/data/paths/collect.py SCENARIO.yaml SUITE OUT_DIR

Runs the scenario's steps, then writes into OUT_DIR: ``<node>.log`` (every MTA's mail log
as read from the container), ``<node>.captures.jsonl`` (every sink's capture records, the
fields the path builder reads: message_id, peer, mail_from, rcpt_to, time), ``topology.json``
(the networks and nodes with their addresses), ``sent.json`` (each message sent: source, server, accepted, the reply; each fetch and the Message-IDs it
retrieved) and ``paths.json`` (the paths the harness built from them during the run).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.kinds import CaptureSink, Mta, capability
from harness.observe import paths
from harness.runner import RunResult, execute
from harness.scenario.loader import load_scenario
from harness.topology import Topology

CAPTURE_FIELDS = ("message_id", "peer", "mail_from", "rcpt_to", "time")


def main(scenario_file: str, suite: str, out: str) -> None:
    scenario = load_scenario(Path(scenario_file))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with Topology(scenario, suite=suite) as topology:
        result = RunResult(scenario, suite)
        execute(topology, result)
        print(result.report())
        for handle in topology.nodes.values():
            if capability(handle.node, Mta):
                (folder / f"{handle.name}.log").write_text(handle.log_text())
            if capability(handle.node, CaptureSink):
                lines = [json.dumps({k: c.get(k) for k in CAPTURE_FIELDS}, sort_keys=True) for c in handle.captures()]
                (folder / f"{handle.name}.captures.jsonl").write_text("".join(line + "\n" for line in lines))
        (folder / "topology.json").write_text(
            json.dumps(paths.TopologyMap.of(scenario).to_json(), indent=1, sort_keys=True) + "\n"
        )
        sendings, fetches = paths.sendings_of(topology), paths.fetches_of(topology)
        record = {
            "sent": [vars(s) for s in sendings],
            "fetched": [{**vars(f), "message_ids": list(f.message_ids)} for f in fetches],
        }
        (folder / "sent.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        built = [p.to_json() for p in paths.observe(topology)]
        (folder / "paths.json").write_text(json.dumps(built, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
