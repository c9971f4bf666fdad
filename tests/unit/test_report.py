"""The behaviour x version report: rows that differ between versions stand out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.report import Row, load_results, markdown, normalise, write_report


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
