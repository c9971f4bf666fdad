"""The pictures: sequence and topology SVG (well-formed, every node named, one arrow per
hop, text escaped, the same bytes every time) and their Mermaid text."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from harness import diagrams
from harness.observe.paths import (
    ACCEPTED,
    BOUNCED,
    CAPTURED,
    DEFERRED,
    DELIVERED,
    REJECTED,
    Hop,
    MessagePath,
    NetworkPlace,
    NodePlace,
    TopologyMap,
)

SVG = "{http://www.w3.org/2000/svg}"
GOLDEN = Path(__file__).parent / "data" / "paths" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

TOPOLOGY = TopologyMap(
    (NetworkPlace("outside", "10.230.11.0/24"), NetworkPlace("inside", "10.230.12.0/24")),
    (
        NodePlace("sender", "client", "sender.outside.test", (("outside", "10.230.11.100"),)),
        NodePlace("relay", "postfix", "relay.example.test", (("outside", "10.230.11.10"), ("inside", "10.230.12.10"))),
        NodePlace("store", "sendmail", "store.example.test", (("inside", "10.230.12.20"),)),
        NodePlace("mx", "sink", "mx.remote.test", (("outside", "10.230.11.30"),)),
    ),
)
PATH = MessagePath(
    "m1",
    "<m1.abc@mta-harness.test>",
    "sender",
    (
        Hop("sender", "relay", ACCEPTED, "4F2A196C8D", "data: 250 2.0.0 Ok: queued as 4F2A196C8D"),
        Hop(
            "relay",
            "store",
            DEFERRED,
            "4F2A196C8D",
            "connect to store[10.230.12.20]:25: Connection refused",
            "10:00:01",
        ),
        Hop("relay", "store", ACCEPTED, "6AMLggBk000176", "relay=store[10.230.12.20]:25", "10:00:09"),
        Hop("store", "store", DELIVERED, "6AMLggBk000176", "mailer=local", "10:00:09", ("taro@example.test",)),
    ),
)


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_a_sequence_diagram_is_well_formed_names_every_node_and_draws_every_hop() -> None:
    svg = diagrams.sequence_svg(PATH, TOPOLOGY)
    root = _tree(svg)
    lifelines = [g.get("data-node") for g in root.iter(f"{SVG}g") if g.get("class") == "lifeline"]
    assert lifelines == ["sender", "relay", "store"]
    hops = [g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("hop ")]
    assert [(g.get("data-from"), g.get("data-to"), g.get("data-outcome")) for g in hops] == [
        ("sender", "relay", "accepted"),
        ("relay", "store", "deferred"),
        ("relay", "store", "accepted"),
        ("store", "store", "delivered"),
    ]
    assert all(g.find(f"{SVG}polygon") is not None for g in hops), "every hop has an arrowhead"
    labels = ["".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") == "hop-label"]
    assert labels == [
        "accepted as 4F2A196C8D",
        "10:00:01 deferred (4F2A196C8D)",
        "10:00:09 accepted as 6AMLggBk000176",
        "10:00:09 delivered to mailbox taro",
    ]
    # the deferral is dashed, a delivery is not
    dashed = {
        g.get("data-outcome"): [e.get("stroke-dasharray") for e in g if e.tag in (f"{SVG}line", f"{SVG}path")]
        for g in hops
    }
    assert dashed["deferred"] == ["6 4"] and dashed["delivered"] == [None]


def test_every_piece_of_text_is_escaped() -> None:
    path = MessagePath("<m&1>", "<x@y>", "a<b", (Hop("a<b", "c&d", REJECTED, "", "rcpt: 554 <x@y> & 'no'"),))
    svg = diagrams.sequence_svg(path)
    root = _tree(svg)  # parses: nothing unescaped
    assert "a<b" in [t.text for t in root.iter(f"{SVG}text")]
    assert "<x@y>" not in svg and "&lt;x@y&gt;" in svg
    topo = TopologyMap(
        (NetworkPlace("n<1>", "10.230.0.0/24"),), (NodePlace("a&b", "client", "h'x", (("n<1>", "10.230.0.5"),)),)
    )
    assert {t.text for t in _tree(diagrams.topology_svg(topo)).iter(f"{SVG}text")} >= {
        "a&b",
        "n<1>",
        "h'x",
        "10.230.0.5",
    }


def test_a_bounce_and_a_refusal_are_crossed_out() -> None:
    path = MessagePath(
        "m", "<m>", "a", (Hop("a", "b", REJECTED, "", "rcpt: 554"), Hop("b", "b", BOUNCED, "Q", "dsn=5.4.4"))
    )
    root = _tree(diagrams.sequence_svg(path))
    rejected = next(g for g in root.iter(f"{SVG}g") if g.get("data-outcome") == "rejected")
    assert any((p.get("d") or "").count("M") == 2 for p in rejected.iter(f"{SVG}path")), "a cross on the refused arrow"


def test_the_topology_shows_networks_nodes_and_each_address() -> None:
    root = _tree(diagrams.topology_svg(TOPOLOGY, "demo"))
    networks = [g.get("data-network") for g in root.iter(f"{SVG}g") if g.get("class") == "network"]
    assert networks == ["outside", "inside"]
    nodes = {g.get("data-node"): g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}
    assert list(nodes) == ["sender", "relay", "store", "mx"]
    relay = [(t.get("data-network"), t.text) for t in nodes["relay"].iter(f"{SVG}text") if t.get("class") == "address"]
    assert relay == [("outside", "10.230.11.10"), ("inside", "10.230.12.10")]
    assert len(list(nodes["relay"].iter(f"{SVG}circle"))) == 2, "one junction per network the node is on"
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"10.230.11.0/24", "10.230.12.0/24", "relay.example.test", "sendmail"} <= texts


def test_the_pictures_are_the_same_bytes_every_time_and_match_the_golden() -> None:
    picture = diagrams.run_picture(TOPOLOGY, [PATH, PATH], "demo on bookworm: FAILED")
    assert picture == diagrams.run_picture(TOPOLOGY, [PATH, PATH], "demo on bookworm: FAILED")
    golden = GOLDEN / "run-picture.svg"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(picture)
    assert picture == golden.read_text(), f"differs from {golden} (UPDATE_GOLDEN=1 rewrites)"
    root = _tree(picture)
    inner = [e for e in root if e.tag == f"{SVG}svg"]
    assert [e.get("class") for e in inner] == ["topology", "sequence"], "the same path twice is drawn once"
    assert "messages m1, m1 (2 messages, the same path)" in picture


def test_mermaid_sequence_and_flowchart() -> None:
    text = diagrams.sequence_mermaid(PATH, TOPOLOGY)
    assert text.splitlines() == [
        "sequenceDiagram",
        "    participant n_sender as sender (client)",
        "    participant n_relay as relay (postfix)",
        "    participant n_store as store (sendmail)",
        "    n_sender->>n_relay: accepted as 4F2A196C8D",
        "    n_relay-->>n_store: 10:00:01 deferred (4F2A196C8D)",
        "    n_relay->>n_store: 10:00:09 accepted as 6AMLggBk000176",
        "    n_store->>n_store: 10:00:09 delivered to mailbox taro",
    ]
    flow = diagrams.topology_mermaid(TOPOLOGY)
    assert '    net_outside[["outside 10.230.11.0/24"]]' in flow
    assert '    node_relay ---|"10.230.12.10"| net_inside' in flow


def test_mermaid_text_cannot_break_the_diagram() -> None:
    assert diagrams.mermaid_text('a;b #1 <x> "q" |p|') == "a#59;b #35;1 #lt;x#gt; #quot;q#quot; #124;p#124;"
    captured = MessagePath("m", "<m>", "inet-mx", (Hop("mta.1", "inet-mx", CAPTURED),))
    assert "n_mta_1->>n_inet_mx: captured" in diagrams.sequence_mermaid(captured)
