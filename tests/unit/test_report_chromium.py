"""The HTML report as a person sees it: Chromium (Debian's ``chromium`` package, headless)
loads the generated page from a file, offline, and the test reads what it rendered: every
node named in the topology and in each message's sequence diagram, one arrow per hop, each
picture laid out with a size, and no label drawn outside its picture.

.ci/run installs chromium; where it is missing this test is skipped (``apt-get install
chromium`` to run it).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.observe.paths import (
    ACCEPTED,
    CAPTURED,
    DEFERRED,
    DELIVERED,
    Hop,
    MessagePath,
    NetworkPlace,
    NodePlace,
    TopologyMap,
)
from harness.report import html_page

# Debian: chromium; GitHub's Ubuntu runners ship google-chrome.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run installs it)"
)

TOPOLOGY = TopologyMap(
    (NetworkPlace("site", "10.230.2.0/24"),),
    (
        NodePlace("sender", "client", "sender.outside.test", (("site", "10.230.2.100"),)),
        NodePlace("mrelay", "postfix", "mrelay.nix.co.jj", (("site", "10.230.2.10"),)),
        NodePlace("mstore", "postfix", "mstore.nix.co.jj", (("site", "10.230.2.20"),)),
        NodePlace("inet-mx", "sink", "mx.outside.test", (("site", "10.230.2.110"),)),
    ),
)
IN = (
    Hop("sender", "mrelay", ACCEPTED, "58DA73160C6", "data: 250 2.0.0 Ok: queued as 58DA73160C6"),
    Hop("mrelay", "mstore", ACCEPTED, "5FDAF3160CB", "relay=mstore.nix.co.jj[10.230.2.20]:25", "18:16:42"),
    Hop("mstore", "mstore", DELIVERED, "5FDAF3160CB", "relay=local", "18:16:42", ("taro@nix.co.jj",)),
)
OUT_RETRIED = (
    Hop("mstore", "mstore", "submitted", "2366531611B"),
    Hop("mstore", "mrelay", ACCEPTED, "3054131611A", "relay=mrelay.nix.co.jj[10.230.2.10]:25", "18:16:52"),
    Hop(
        "mrelay",
        "inet-mx",
        DEFERRED,
        "3054131611A",
        "connect to mx.outside.test[10.230.2.110]:25: timed out",
        "18:16:57",
    ),
    Hop("mrelay", "inet-mx", CAPTURED, "", "from 10.230.2.10 <taro@nix.co.jj> -> kkk@outside.test", "18:17:03"),
)


def _result(suite: str, out_hops: tuple[Hop, ...]) -> dict[str, Any]:
    paths = [
        MessagePath("in-site", f"<in-site.{suite}@mta-harness.test>", "sender", IN),
        MessagePath("while-down", f"<while-down.{suite}@mta-harness.test>", "mstore", out_hops),
    ]
    return {
        "scenario": "relay-store-demo",
        "file": "scenarios/relay-store-demo.yaml",
        "description": "Inbound to the store, outbound through the relay while the MX is away.",
        "suite": suite,
        "versions": {"mrelay": f"postfix {suite}"},
        "passed": True,
        "error": "",
        "steps": [
            {
                "index": 0,
                "action": "expect_mailbox",
                "title": "expect_mailbox(at=mstore, user=taro)",
                "line": 7,
                "status": "passed",
                "detail": "found",
                "seconds": 0.1,
                "expectation": True,
            }
        ],
        "topology": TOPOLOGY.to_json(),
        "paths": [p.to_json() for p in paths],
    }


# Run after the page loaded, in the copy only: opens the collapsed sections and measures what
# the browser laid out, into a <pre id='measured'> that --dump-dom carries out.
MEASURE = """<script>
for (const d of document.querySelectorAll('details')) d.open = true;
const out = {topology: [], sequences: []};
for (const svg of document.querySelectorAll('svg.topology')) {
  const box = svg.getBoundingClientRect();
  out.topology.push({width: box.width, height: box.height,
    nodes: [...svg.querySelectorAll('g.node')].map(g => ({name: g.dataset.node,
      label: g.querySelector('.node-name').textContent, width: g.getBBox().width})),
    networks: [...svg.querySelectorAll('g.network')].map(g => g.dataset.network),
    addresses: [...svg.querySelectorAll('text.address')].map(t => t.textContent)});
}
for (const svg of document.querySelectorAll('svg.sequence')) {
  const box = svg.getBoundingClientRect();
  const outside = [...svg.querySelectorAll('text')].filter(t => {
    const b = t.getBBox(); return b.x < -1 || b.x + b.width > svg.width.baseVal.value + 1; }).map(t => t.textContent);
  out.sequences.push({message: svg.dataset.message, suites: svg.closest('.group').dataset.suites,
    width: box.width, height: box.height,
    lifelines: [...svg.querySelectorAll('g.lifeline')].map(g => g.querySelector('.node-name').textContent),
    hops: [...svg.querySelectorAll('g.hop')].map(g => ({from: g.dataset.from, to: g.dataset.to,
      outcome: g.dataset.outcome, width: g.getBBox().width, height: g.getBBox().height,
      colour: getComputedStyle(g).fill})),
    outside: outside});
}
const pre = document.createElement('pre'); pre.id = 'measured';
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


def _chromium(page: Path, tmp_path: Path) -> str:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # as root in a container
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def page() -> str:
    # bullseye and bookworm saw different paths for while-down (a deferral first on bookworm)
    return html_page(
        [_result("bullseye", (OUT_RETRIED[0], OUT_RETRIED[1], OUT_RETRIED[3])), _result("bookworm", OUT_RETRIED)]
    )


def test_the_rendered_page_names_every_node_and_draws_every_hop(page: str, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", MEASURE + "</body>"))
    dom = _chromium(path, tmp_path)
    found = re.search(r"<pre id=\"measured\">(.*?)</pre>", dom, re.S)
    assert found, dom[-2000:]
    measured = json.loads(html.unescape(found.group(1)))

    (topology,) = measured["topology"]
    assert [n["name"] for n in topology["nodes"]] == ["sender", "mrelay", "mstore", "inet-mx"]
    assert all(n["label"] == n["name"] and n["width"] > 0 for n in topology["nodes"])
    assert topology["networks"] == ["site"]
    assert topology["addresses"] == ["10.230.2.100", "10.230.2.10", "10.230.2.20", "10.230.2.110"]
    assert topology["width"] > 0 and topology["height"] > 0

    sequences = {(s["message"], s["suites"]): s for s in measured["sequences"]}
    assert list(sequences) == [("in-site", "bullseye bookworm"), ("while-down", "bullseye"), ("while-down", "bookworm")]
    inbound = sequences[("in-site", "bullseye bookworm")]
    assert inbound["lifelines"] == ["sender", "mrelay", "mstore"]
    assert [(h["from"], h["to"], h["outcome"]) for h in inbound["hops"]] == [
        ("sender", "mrelay", "accepted"),
        ("mrelay", "mstore", "accepted"),
        ("mstore", "mstore", "delivered"),
    ]
    assert [h["outcome"] for h in sequences[("while-down", "bullseye")]["hops"]] == [
        "submitted",
        "accepted",
        "captured",
    ]
    bookworm = sequences[("while-down", "bookworm")]
    assert [h["outcome"] for h in bookworm["hops"]] == ["submitted", "accepted", "deferred", "captured"]
    assert bookworm["lifelines"] == ["mstore", "mrelay", "inet-mx"]
    for sequence in measured["sequences"]:
        assert sequence["width"] > 0 and sequence["height"] > 0, sequence["message"]
        assert sequence["outside"] == [], f"labels drawn outside the picture: {sequence['outside']}"
        for hop in sequence["hops"]:
            assert hop["width"] > 0 and hop["height"] > 0, hop  # laid out: an arrow with a label
    # outcomes have their colours: a deferral is not drawn like an acceptance
    colours = {h["outcome"]: h["colour"] for h in bookworm["hops"]}
    assert colours["deferred"] != colours["accepted"]


def test_the_page_as_chromium_parsed_it_keeps_the_pictures_and_marks_the_differing_path(
    page: str, tmp_path: Path
) -> None:
    path = tmp_path / "report.html"
    path.write_text(page)
    dom = _chromium(path, tmp_path)
    assert dom.count("<svg ") == 4, "one topology, in-site once (the same on both suites), while-down per suite"
    assert dom.count('class="hop outcome-') == 3 + 3 + 4
    for name in ("sender", "mrelay", "mstore", "inet-mx"):
        assert f'data-node="{name}"' in dom
    row = dom.split("while-down")[0].rsplit("<tr", 1)[1]
    assert 'class="differs"' in row, "while-down took another path on bookworm"


MERMAID = (
    Path(__file__).resolve().parents[2] / "tools" / "mermaid" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
)
# Every ```mermaid block of the page's Markdown, given to Mermaid's own parser in the browser.
PARSE = """<!doctype html><html><body><pre id='parsed'>pending</pre>
<script src='MERMAID'></script>
<script>
(async () => {
  const out = [];
  for (const text of TEXTS) {
    try { await mermaid.parse(text); out.push('ok'); } catch (e) { out.push(String(e.message || e)); }
  }
  document.getElementById('parsed').textContent = JSON.stringify(out);
})();
</script></body></html>"""


@pytest.mark.skipif(
    not MERMAID.exists(), reason="Mermaid is not installed: npm install --prefix tools/mermaid (make install does it)"
)
def test_mermaid_parses_every_diagram_of_the_markdown(tmp_path: Path) -> None:
    from harness.report import markdown

    text = markdown(
        [_result("bullseye", (OUT_RETRIED[0], OUT_RETRIED[1], OUT_RETRIED[3])), _result("bookworm", OUT_RETRIED)]
    )
    blocks = re.findall(r"```mermaid\n(.*?)\n```", text, re.S)
    assert len(blocks) == 1 + 1 + 2, "the topology, in-site once, while-down per suite"
    broken = "sequenceDiagram\n    a->>b: fine\n    a-<<b: not an arrow"  # the check can fail
    page = tmp_path / "parse.html"
    page.write_text(PARSE.replace("MERMAID", MERMAID.as_uri()).replace("TEXTS", json.dumps([*blocks, broken])))
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--allow-file-access-from-files",
        "--virtual-time-budget=20000",  # the parser is asynchronous
        f"--user-data-dir={tmp_path / 'profile'}",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r"<pre id=\"parsed\">(.*?)</pre>", done.stdout, re.S)
    assert found and found.group(1) != "pending", done.stdout[-1000:] + done.stderr[-1000:]
    parsed = json.loads(html.unescape(found.group(1)))
    assert parsed[:-1] == ["ok"] * len(blocks), list(zip(blocks, parsed, strict=False))
    assert parsed[-1].startswith("Parse error"), parsed[-1]
