"""The behaviour x version report: rows that differ between versions stand out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.kinds import KINDS
from harness.kinds.postfix.queue import parse_postqueue_json
from harness.kinds.sendmail.queue import parse_mailq
from harness.report import Row, html_page, load_results, markdown, normalise, write_report

# Output read from real containers, beside each kind's tests: kinds/<kind>/data/{logs,queue}/
KINDS_TESTS = Path(__file__).parent / "kinds"


def _result(suite: str, detail: str, status: str = "passed") -> dict[str, Any]:
    return {
        "scenario": "demo",
        "file": "scenarios/demo.yaml",
        "description": "A demo.",
        "suite": suite,
        "versions": {"sm": f"sendmail {suite}"},
        "passed": status == "passed",
        "error": "",
        "steps": [
            {
                "index": 0,
                "action": "send",
                "title": "send(id=m1)",
                "line": 5,
                "status": "done",
                "detail": "",
                "seconds": 0.1,
                "expectation": False,
            },
            {
                "index": 1,
                "action": "expect_delivery",
                "title": "expect_delivery(at=sm)",
                "line": 6,
                "status": status,
                "detail": detail,
                "seconds": 0.1,
                "expectation": True,
            },
        ],
    }


BULLSEYE = "Nov 22 21:42:06 sm mail.info sendmail[214]: 6AMLg60A000212: to=dave@remote.test, delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30277, relay=mx.remote.test. [10.209.0.30], dsn=4.0.0, stat=Deferred"
BOOKWORM = "Nov 23 01:02:03 sm mail.info sendmail[999]: 6AN1230B000999: to=dave@remote.test, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=30999, relay=mx.remote.test. [10.209.0.30], dsn=4.4.1, stat=Deferred"


def test_normalise_removes_what_changes_between_runs() -> None:
    assert (
        normalise(BULLSEYE)
        == "sendmail: QID: to=dave@remote.test, mailer=esmtp, relay=mx.remote.test. [10.209.0.30], dsn=4.0.0, stat=Deferred"
    )
    assert normalise("captured <m1.cd2744fd.1c445c6b2912@mta-harness.test> at mx") == "captured <m1> at mx"
    assert normalise("") == ""


def test_same_observation_on_every_suite_is_not_a_difference() -> None:
    row = Row("x", 1, {"bullseye": ("passed", BULLSEYE), "bookworm": ("passed", BULLSEYE.replace("214", "215"))})
    assert not row.differs


def test_a_different_dsn_is_a_difference_and_is_marked(tmp_path: Path) -> None:
    results = [_result("bullseye", BULLSEYE), _result("bookworm", BOOKWORM)]
    text = markdown(results)
    assert "| **≠** | expect_delivery(at=sm) (line 6) |" in text
    assert "dsn=4.0.0" in text and "dsn=4.4.1" in text
    assert text.index("| bullseye |") < text.index("| bookworm |")
    md, page = write_report(results, tmp_path / "out" / "report")
    assert md.read_text().startswith("# Behaviour by MTA version")
    assert "class='differs'" in page.read_text()


def test_results_are_read_back(tmp_path: Path) -> None:
    import json

    (tmp_path / "demo--bullseye.json").write_text(json.dumps(_result("bullseye", BULLSEYE)))
    assert [r["suite"] for r in load_results(tmp_path)] == ["bullseye"]


def test_bind_query_log_lines_lose_their_stamp_client_and_port() -> None:
    line = "22-Nov-2026 22:30:08.278 queries: client @0x7f4012b6b898 10.203.4.12#50171 (relay.upstream.test): query: relay.upstream.test IN MX + (10.203.4.53)"
    assert (
        normalise(line)
        == "queries: client 10.203.4.12#PORT (relay.upstream.test): query: relay.upstream.test IN MX + (10.203.4.53)"
    )


# --- queue ids ----------------------------------------------------------------------------------
# Every queue id becomes QID, by the format of the MTA that wrote it; words that merely have
# the length of one (14 letters, like "Authentication") are observations and stay.


@pytest.mark.parametrize(
    "text",
    [
        "530 5.7.0 Authentication required",
        "SASL authentication failed; cannot authenticate to server relay.upstream.test[10.203.2.30]: no mechanism available",
        "warning: SASL authentication failure: No worthy mechs found",
        "535 5.7.8 Error: authentication failed: Authentication credentials invalid",
        "SASL authentication failed; server relay.upstream.test[10.203.2.30] said: 535 5.7.8 Authentication credentials invalid",
        # kinds/postfix/data/logs/bookworm-postfix.log
        'To disable backwards compatibility use "postconf compatibility_level=3.6" and "postfix reload"',
    ],
)
def test_words_as_long_as_a_queue_id_are_kept(text: str) -> None:
    assert normalise(text) == text


def test_reasons_in_a_delivery_line_are_kept_and_its_queue_id_goes() -> None:
    line = (
        "Nov 22 21:43:40 pf postfix/smtp[412]: 3FC03196184: to=<carol@cl.office.test>, "
        "relay=relay.upstream.test[10.203.2.30]:587, delay=0.1, delays=0.04/0.01/0.05/0, dsn=5.7.0, "
        "status=bounced (host relay.upstream.test[10.203.2.30] said: 530 5.7.0 Authentication required "
        "(in reply to MAIL FROM command))"
    )
    assert normalise(line) == (
        "postfix/smtp: QID: to=<carol@cl.office.test>, relay=relay.upstream.test[10.203.2.30]:587, "
        "dsn=5.7.0, status=bounced (host relay.upstream.test[10.203.2.30] said: 530 5.7.0 Authentication "
        "required (in reply to MAIL FROM command))"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # kinds/postfix/data/logs/bookworm-postfix.log
        (
            "Nov 22 21:42:41 pf postfix/bounce[339]: D5287196C8F: sender non-delivery notification: D8C96196C92",
            "postfix/bounce: QID: sender non-delivery notification: QID",
        ),
        # kinds/postfix/data/logs/trixie-postfix.log
        (
            "Nov 22 21:49:07 pf postfix/cleanup[418]: 33B241AD053: message-id=<pf-sent@t>",
            "postfix/cleanup: QID: message-id=<pf-sent@t>",
        ),
        # kinds/sendmail/data/logs/bookworm-sendmail.log
        (
            "Nov 22 21:42:42 sm mail.info sendmail[175]: 6AMLggFN000175: to=bob@remote.test, delay=00:00:00, "
            "xdelay=00:00:00, mailer=relay, pri=30041, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, "
            "stat=Sent (6AMLggBk000176 Message accepted for delivery)",
            "sendmail: QID: to=bob@remote.test, mailer=relay, relay=[127.0.0.1] [127.0.0.1], dsn=2.0.0, "
            "stat=Sent (QID Message accepted for delivery)",
        ),
        # kinds/sendmail/data/queue/trixie-mailq.txt
        (
            "6AMLn87u000262        5 Sun Nov 22 21:49 a@sm.example.test",
            "QID        5 Sun Nov 22 21:49 a@sm.example.test",
        ),
    ],
)
def test_real_queue_ids_become_qid(line: str, expected: str) -> None:
    assert normalise(line) == expected


def _recorded_queue_ids() -> set[str]:
    qids = set()
    for path in sorted(KINDS_TESTS.glob("*/data/logs/*.log")):
        kind = KINDS[path.stem.split("-", 1)[1]]  # bookworm-postfix.log
        qids |= {line.qid for line in kind.parse_log(path.read_text(encoding="utf-8")) if line.qid}
    for path in sorted(KINDS_TESTS.glob("*/data/queue/*")):
        text = path.read_text(encoding="utf-8")
        entries = parse_postqueue_json(text) if path.suffix == ".jsonl" else parse_mailq(text)
        qids |= {entry.qid for entry in entries}
    return qids


def test_every_recorded_queue_id_is_one_and_nothing_else_in_the_logs_is() -> None:
    qids = _recorded_queue_ids()
    assert len(qids) > 60  # both MTAs, three versions each
    assert {qid for qid in qids if normalise(qid) != "QID"} == set()
    # In every recorded log line, exactly the queue ids become QID: the count of QIDs is
    # that of the ids in the line, and no id is left. (Message-IDs that Postfix makes up,
    # <20261122214241.D8C96196C92@...>, start with a 14-digit time stamp that has the form
    # of a sendmail queue id; it changes from run to run as well, so they are left out.)
    word = re.compile(r"[0-9A-Za-z]+")
    made_up_msgid = re.compile(r"message-id=<\d{14}\.[^>]*>")
    for path in sorted(KINDS_TESTS.glob("*/data/logs/*.log")):
        for raw in (made_up_msgid.sub("", r) for r in path.read_text(encoding="utf-8").splitlines()):
            ids = [w for w in word.findall(raw) if w in qids]
            normal = normalise(raw)
            assert normal.count("QID") == len(ids), (path.name, raw, normal)


# --- topology and message paths -------------------------------------------------------------
SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"


def _run(passed: bool) -> Any:
    from harness.observe.paths import CAPTURED, SUBMITTED, Hop, MessagePath
    from harness.runner import FAILED, PASSED, RunResult, StepResult
    from harness.scenario.loader import load_scenario

    scenario = load_scenario(SMOKE)
    result = RunResult(scenario, "bookworm", diagnostics="\n=== diagnostics ===")
    result.steps = [StepResult(2, scenario.steps[2], PASSED if passed else FAILED, "captured")]
    result.paths = [
        MessagePath(
            "from-postfix",
            "<from-postfix.x@mta-harness.test>",
            "pf",
            (Hop("pf", "pf", SUBMITTED, "AA6B8196C8D"), Hop("pf", "mx", CAPTURED, "", "from 10.201.0.10", "21:42:41")),
        )
    ]
    return result


def test_a_result_carries_the_topology_and_every_path(tmp_path: Path) -> None:
    import json

    from harness.report import write_result

    path = write_result(_run(passed=True), tmp_path)
    data = json.loads(path.read_text())
    assert [n["name"] for n in data["topology"]["nodes"]] == ["ns", "pf", "sm", "mx"]
    assert data["topology"]["nodes"][1]["addresses"] == {"net": "10.201.0.10"}
    assert data["topology"]["networks"] == [{"name": "net", "subnet": "10.201.0.0/24"}]
    assert [(h["from"], h["to"], h["outcome"]) for h in data["paths"][0]["hops"]] == [
        ("pf", "pf", "submitted"),
        ("pf", "mx", "captured"),
    ]
    assert not (tmp_path / "smoke-bookworm-path.svg").exists(), "a passing run draws no failure picture"


def test_a_failed_run_writes_its_picture_and_names_it_in_the_diagnostics(tmp_path: Path) -> None:
    import json
    import xml.etree.ElementTree as ET

    from harness.report import write_result

    result = _run(passed=False)
    write_result(result, tmp_path)
    picture = tmp_path / "smoke-bookworm-path.svg"
    root = ET.fromstring(picture.read_text())
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"pf", "mx", "10.201.0.10", "net"} <= texts
    assert "smoke on bookworm: FAILED at step 3: expect_captured" in root.findtext(
        "{http://www.w3.org/2000/svg}title", ""
    )
    line = f"path picture (topology and every message's hops): {picture}"
    assert result.diagnostics.endswith(line) and line in result.report()
    assert line in json.loads((tmp_path / "smoke--bookworm.json").read_text())["diagnostics"]
    write_result(result, tmp_path)
    assert result.diagnostics.count(line) == 1
    result.steps[0].status = "passed"
    write_result(result, tmp_path)
    assert not picture.exists(), "a later passing run removes the stale picture"


def _with_paths(suite: str, hops: list[dict[str, Any]], names: tuple[str, ...] = ("m1",)) -> dict[str, Any]:
    result = _result(suite, BULLSEYE)
    result["topology"] = {
        "networks": [{"name": "net", "subnet": "10.230.9.0/24"}],
        "nodes": [
            {"name": "sm", "kind": "sendmail", "hostname": "sm.example.test", "addresses": {"net": "10.230.9.11"}},
            {"name": "mx", "kind": "sink", "hostname": "mx.remote.test", "addresses": {"net": "10.230.9.30"}},
        ],
    }
    result["paths"] = [{"message": n, "message_id": f"<{n}>", "origin": "sm", "hops": hops} for n in names]
    return result


SUBMIT = {"from": "sm", "to": "sm", "outcome": "submitted", "qid": "6AMLggBk000176"}
DEFER = {"from": "sm", "to": "mx", "outcome": "deferred", "detail": "stat=Deferred"}
CAPTURE = {"from": "sm", "to": "mx", "outcome": "captured", "detail": "from 10.230.9.11"}


def test_the_markdown_draws_the_topology_and_each_path_in_mermaid_and_marks_a_different_one() -> None:
    same = markdown([_with_paths("bullseye", [SUBMIT, CAPTURE]), _with_paths("bookworm", [SUBMIT, CAPTURE])])
    assert same.count("```mermaid") == 2  # the topology, one path for both suites
    assert "message `m1` on bullseye, bookworm:" in same and "**≠** message" not in same
    assert "flowchart TB" in same and 'node_sm ---|"10.230.9.11"| net_net' in same
    assert "    n_sm->>n_mx: captured" in same
    differ = markdown([_with_paths("bullseye", [SUBMIT, CAPTURE]), _with_paths("bookworm", [SUBMIT, DEFER, CAPTURE])])
    assert "**≠** message `m1` on bullseye:" in differ and "**≠** message `m1` on bookworm:" in differ
    assert "    n_sm-->>n_mx: deferred" in differ


def test_the_html_page_draws_inline_svg_only_and_merges_messages_with_the_same_path() -> None:
    results = [
        _with_paths("bullseye", [SUBMIT, CAPTURE], ("m1", "m2", "m3")),
        _with_paths("bookworm", [SUBMIT, CAPTURE], ("m1", "m2", "m3")),
    ]
    page = html_page(results)
    assert page.count("<svg ") == 1 + 1  # the topology, then one row: three messages, the same on both suites
    assert "<div class='group' data-suites='bullseye bookworm'><b>bullseye, bookworm</b>" in page
    differ = html_page([_with_paths("bullseye", [SUBMIT, CAPTURE]), _with_paths("bookworm", [SUBMIT, DEFER, CAPTURE])])
    assert differ.count("<svg ") == 1 + 2 and "<tr class='differs'><td>≠ m1</td>" in differ
    assert "m1 … m3 (3 messages, the same path)" in page
    # renders offline: no scripts, no files, no addresses but the SVG namespace
    assert "<script" not in page and not re.search(r"\b(?:src|href)=", page)
    assert set(re.findall(r"https?://[^'\"\s]+", page)) == {"http://www.w3.org/2000/svg"}
    old = _result("bullseye", BULLSEYE)  # a result written before paths were recorded
    assert "<svg" not in html_page([old]) and "mermaid" not in markdown([old])
