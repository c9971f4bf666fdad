"""The path builder, from what real runs recorded (``data/paths/<scenario>-<suite>/``, made
by ``data/paths/collect.py``): each MTA's mail log read with its kind's own parser, each
sink's captures, each message sent and each mailbox fetch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.kinds import KINDS, Mta
from harness.observe.logs import Delivery, LogLine
from harness.observe.paths import (
    Fetching,
    Hop,
    MessagePath,
    NodeRecord,
    Sending,
    TopologyMap,
    alike,
    build_paths,
    log_time,
    names_of,
)

DATA = Path(__file__).parent / "data" / "paths"
RECORDED = sorted(p.name for p in DATA.iterdir() if (p / "sent.json").exists())


def _load(name: str) -> tuple[TopologyMap, list[MessagePath], list[MessagePath]]:
    """The recorded run: its topology, the paths built from the files now, and the paths
    the harness built during the run."""
    folder = DATA / name
    topology = TopologyMap.from_json(json.loads((folder / "topology.json").read_text()))
    records = []
    for node in topology.nodes:
        kind = KINDS[node.kind]
        lines: list[LogLine] = []
        deliveries: list[Delivery] = []
        log = folder / f"{node.name}.log"
        if log.exists() and isinstance(kind, Mta):
            lines = kind.parse_log(log.read_text())
            deliveries = kind.deliveries(lines)
        captures_file = folder / f"{node.name}.captures.jsonl"
        captures = [json.loads(x) for x in captures_file.read_text().splitlines()] if captures_file.exists() else []
        records.append(NodeRecord(node.name, tuple(lines), tuple(deliveries), tuple(captures)))
    sent: dict[str, Any] = json.loads((folder / "sent.json").read_text())
    sendings = [Sending(**s) for s in sent["sent"]]
    fetches = [Fetching(**{**f, "message_ids": tuple(f["message_ids"])}) for f in sent["fetched"]]
    addresses = {ip: node.name for node in topology.nodes for _, ip in node.addresses}
    built = build_paths(addresses, sendings, records, fetches)
    during = [MessagePath.from_json(p) for p in json.loads((folder / "paths.json").read_text())]
    return topology, built, during


def _hops(paths: list[MessagePath], name: str) -> list[tuple[str, str, str]]:
    path = next(p for p in paths if p.name == name)
    return [(h.source, h.target, h.outcome) for h in path.hops]


@pytest.mark.parametrize("name", RECORDED)
def test_the_files_give_the_paths_the_run_built(name: str) -> None:
    _, built, during = _load(name)

    def essence(paths: list[MessagePath]) -> list[tuple[str, list[tuple[str, str, str, str, str]]]]:
        # what the hops are; the wording of their details may change with the builder
        return [(p.name, [(h.source, h.target, h.outcome, h.qid, h.time) for h in p.hops]) for p in paths]

    assert essence(built) == essence(during)


SUITES = ("bullseye", "bookworm", "trixie")


@pytest.mark.parametrize("suite", SUITES)
def test_postfix_inbound_relay_to_store_mailbox(suite: str) -> None:
    _, paths, _ = _load(f"relay-store-postfix-{suite}")
    path = next(p for p in paths if p.name == "in-site")
    first, relayed, delivered = path.hops
    assert (first.source, first.target, first.outcome) == ("sender", "mrelay", "accepted")
    # the client's 250 to DATA names mrelay's queue id; mrelay's log line names mstore's
    assert first.detail == f"data: 250 2.0.0 Ok: queued as {first.qid}"
    assert (relayed.source, relayed.target, relayed.outcome) == ("mrelay", "mstore", "accepted")
    # its time is that of mrelay's smtp line that says mstore queued it
    logged = next(
        x
        for x in (DATA / f"relay-store-postfix-{suite}" / "mrelay.log").read_text().splitlines()
        if f"queued as {relayed.qid}" in x
    )
    assert logged.split()[2] == relayed.time
    assert relayed.detail.startswith("relay=mstore.nix.co.jj[10.230.2.20]:25, dsn=2.0.0, 250 2.0.0 Ok: queued as ")
    assert relayed.qid == delivered.qid and relayed.qid in relayed.detail
    assert (delivered.source, delivered.target, delivered.outcome) == ("mstore", "mstore", "delivered")
    assert delivered.recipients == ("taro@nix.co.jj",) and delivered.label() == "delivered to mailbox taro"


@pytest.mark.parametrize("suite", SUITES)
def test_postfix_alias_forward_bounce_refusal_and_retry(suite: str) -> None:
    _, paths, _ = _load(f"relay-store-postfix-{suite}")
    assert _hops(paths, "to-jiro") == [
        ("sender", "mrelay", "accepted"),
        ("mrelay", "mstore", "accepted"),
        ("mstore", "mstore", "forwarded"),  # local(8): "forwarded as QID"
        ("mstore", "hostc", "accepted"),
        ("hostc", "hostc", "delivered"),
    ]
    assert _hops(paths, "out-hostc") == [
        ("hostc", "hostc", "submitted"),
        ("hostc", "mstore", "accepted"),
        ("mstore", "mrelay", "accepted"),
        ("mrelay", "inet-mx", "captured"),
    ]
    bare = next(p for p in paths if p.name == "bare").hops[-1]
    assert (bare.source, bare.target, bare.outcome) == ("bare", "bare", "bounced")  # relay=none: no peer
    assert "dsn=5.4.4" in bare.detail and "name=mstore type=A" in bare.detail
    refused = next(p for p in paths if p.name == "relay-out").hops
    assert [(h.source, h.target, h.outcome, h.detail) for h in refused] == [
        ("sender", "mrelay", "rejected", "rcpt: 454 4.7.1 <victim@ccc-not-ours.test>: Relay access denied")
    ]
    # blackholed MX: the connect times out (relay=none, the address is in the reason), then the flush
    assert _hops(paths, "while-down")[-2:] == [("mrelay", "inet-mx", "deferred"), ("mrelay", "inet-mx", "captured")]
    deferred = next(p for p in paths if p.name == "while-down").hops[-2]
    assert deferred.detail == "connect to mx.outside.test[10.230.2.110]:25: Connection timed out, relay=none, dsn=4.4.1"


@pytest.mark.parametrize("suite", SUITES)
def test_sendmail_relay_store_and_its_queue_ids(suite: str) -> None:
    _, paths, _ = _load(f"relay-store-sendmail-{suite}")
    assert _hops(paths, "in-site") == [
        ("sender", "mrelay", "accepted"),
        ("mrelay", "mstore", "accepted"),
        ("mstore", "mstore", "delivered"),  # mailer=local
    ]
    relayed = next(p for p in paths if p.name == "in-site").hops[1]
    assert relayed.detail.startswith(
        f"relay=mstore.nix.co.jj. [10.230.1.20], mailer=esmtp, dsn=2.0.0, Sent ({relayed.qid} Message accepted"
    )
    delivered = next(p for p in paths if p.name == "in-site").hops[2]
    assert delivered.detail == "mailer=local, dsn=2.0.0, Sent" and delivered.label() == "delivered to mailbox taro"
    spam = next(p for p in paths if p.name == "spam").hops
    assert [(h.outcome, h.detail) for h in spam] == [("rejected", "mail: 550 5.7.1 <katou@bbb.test>... Access denied")]
    assert _hops(paths, "while-down")[-2:] == [("mrelay", "inet-mx", "deferred"), ("mrelay", "inet-mx", "captured")]


def test_fetches_by_pop3_and_imap_end_the_path() -> None:
    _, paths, _ = _load("relay-store-pop-bookworm")
    taro = next(p for p in paths if p.name == "in-taro")
    assert [(h.source, h.target, h.outcome) for h in taro.hops][-3:] == [("mstore", "pc", "fetched")] * 3
    assert [h.label() for h in taro.hops[-3:]] == ["fetched by POP3", "fetched by IMAP", "fetched by POP3"]
    assert _hops(paths, "to-hana") == [
        ("sender", "mrelay", "accepted"),
        ("mrelay", "mstore", "accepted"),
        ("mstore", "mhub", "accepted"),
        ("mhub", "mhub", "delivered"),
        ("mhub", "pc", "fetched"),
    ]
    # the relay is on two networks: the store reaches it as gw (inside), the MX sees its outside address
    out = next(p for p in paths if p.name == "out").hops
    assert "[10.230.12.10]" in out[1].detail and out[2].detail.startswith("from 10.230.11.10 ")


def test_a_loopback_relay_is_the_node_itself_and_unknown_addresses_stay_unnamed() -> None:
    lines = [
        LogLine("Dec 03 10:00:01 sm sendmail[1]: A: to=x@y, relay=[127.0.0.1] [127.0.0.1]", "sendmail", "A", ""),
    ]
    msp = Delivery(
        "A",
        ("x@y",),
        "[127.0.0.1] [127.0.0.1]",
        "2.0.0",
        "sent",
        "Sent (6AMLggBk000176 Message accepted for delivery)",
        lines[0].raw,
    )
    away = Delivery(
        "A", ("x@y",), "mx.far.test [192.0.2.9]", "4.0.0", "deferred", "Deferred: Connection refused", lines[0].raw
    )
    record = NodeRecord("sm", (LogLine("x", "sendmail", "A", "from=<a>, msgid=<m>"),), (msp, away))
    (path,) = build_paths({"10.230.0.11": "sm"}, [Sending("m", "<m>", "sm", None, True)], [record])
    assert [(h.source, h.target, h.outcome, h.qid) for h in path.hops] == [
        ("sm", "sm", "submitted", "A"),
        ("sm", "sm", "accepted", "6AMLggBk000176"),
        ("sm", "sm", "deferred", "A"),  # 192.0.2.9 is no node of the topology
    ]


def test_log_times_sort_syslog_and_iso_stamps() -> None:
    assert log_time("Dec 03 18:16:42 mrelay postfix/smtp[1]: x") == ("18:16:42", (12, 3, 18, 16, 42))
    assert log_time("Nov  2 01:02:03 h sendmail[1]: x") == ("01:02:03", (11, 2, 1, 2, 3))
    assert log_time("2026-12-03T18:16:42.123+00:00 h postfix/smtp[1]: x") == ("18:16:42", (12, 3, 18, 16, 42))
    assert log_time("no stamp") == ("", None)


def test_messages_that_took_the_same_path_are_drawn_once() -> None:
    _, paths, _ = _load("relay-store-postfix-bookworm")
    runs = alike(paths)
    battery = [r for r in runs if r[0].name.startswith("relay-") and len(r) > 1]
    # two relay_check batteries of 16 probes, each refused at RCPT with 454; not the spam
    # message just before them (554)
    assert [len(r) for r in battery] == [32]
    assert names_of(battery[0]) == "relay-95008-01 … relay-97573-16 (32 messages, the same path)"
    assert [r[0].name for r in runs].index("spam") + 1 == [r[0].name for r in runs].index("relay-95008-01")
    assert sum(len(r) for r in runs) == len(paths)


def test_paths_round_trip_through_json() -> None:
    _, paths, _ = _load("relay-store-sendmail-bookworm")
    assert [MessagePath.from_json(json.loads(json.dumps(p.to_json()))) for p in paths] == paths
    hop = Hop("a", "b", "accepted", "Q", "d", "10:00:00", ("x@y",))
    assert Hop.from_json(hop.to_json()) == hop


def test_ipv6_addresses_in_either_spelling_name_their_node() -> None:
    from harness.observe.paths import _Builder, addresses
    from harness.scenario.loader import load_scenario

    scenario = load_scenario(Path(__file__).parents[2] / "scenarios" / "ipv6-dual-stack.yaml")
    builder = _Builder(addresses(scenario), {})
    assert builder.node_at("fd42:232::28", "pf") == "mx"  # Postfix: relay=mx.remote.test[fd42:232::28]:25
    assert builder.node_at("IPv6:fd42:232:0:0:0:0:0:28", "sm") == "mx"  # sendmail: [IPv6:...]
    assert builder.node_at("10.232.0.40", "pf") == "mx" and builder.node_at("::1", "sm") == "sm"
