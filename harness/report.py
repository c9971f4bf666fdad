"""Behaviour x version report: every expectation of every scenario, per suite, as Markdown
and as a self-contained HTML page. Rows whose observation differs between versions are
marked, so that version-specific behaviour stands out.

Inputs are the JSON results of runs (:func:`result_to_json`, written by :func:`write_result`),
one file per scenario and suite, from ``mta-harness run`` or the pytest plugin.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import diagrams
from harness.kinds import KINDS, Mta
from harness.observe.paths import MessagePath, TopologyMap
from harness.runner import RunResult
from harness.scenario.model import SUITES

RESULTS_DIR = Path("reports/results")


def result_to_json(result: RunResult) -> dict[str, Any]:
    return {
        "scenario": result.scenario.name,
        "file": _display_path(result.scenario.file),
        "description": result.scenario.description,
        "suite": result.suite,
        "versions": result.versions,
        "passed": result.passed,
        "error": result.error,
        # On failure: per node, the log lines of each message, the queue, the captures and
        # the SMTP transcripts (CI keeps these files as artifacts).
        "diagnostics": result.diagnostics,
        # What the pictures need: the networks and nodes with their addresses, and per
        # message the hops it was observed to take.
        "topology": TopologyMap.of(result.scenario).to_json(),
        "paths": [p.to_json() for p in result.paths],
        "steps": [
            {
                "index": r.index,
                "action": r.step.action,
                "title": r.step.describe(),
                "line": r.step.line,
                "status": r.status,
                "detail": r.detail,
                "seconds": round(r.seconds, 2),
                "expectation": r.step.expectation,
            }
            for r in result.steps
        ],
    }


def _display_path(file: str) -> str:
    """Scenario paths relative to the working folder, so reports read the same everywhere."""
    path = Path(file)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return file


def picture_path(result: RunResult, directory: Path = RESULTS_DIR) -> Path:
    """Where a failed run's picture goes: ``<results>/<scenario>-<suite>-path.svg``."""
    return directory / f"{result.scenario.name}-{result.suite}-path.svg"


def write_picture(result: RunResult, directory: Path = RESULTS_DIR) -> Path:
    """The run's topology and every message's path as one SVG file."""
    path = picture_path(result, directory)
    failed = next((r for r in result.steps if r.status in ("failed", "error")), None)
    verdict = (
        "passed"
        if result.passed
        else "FAILED" + (f" at step {failed.index + 1}: {failed.step.describe()}" if failed else "")
    )
    caption = f"{result.scenario.name} on {result.suite}: {verdict}"
    path.write_text(diagrams.run_picture(TopologyMap.of(result.scenario), result.paths, caption))
    return path


def write_result(result: RunResult, directory: Path = RESULTS_DIR) -> Path:
    """The run's JSON result; for a failed run also its picture (:func:`write_picture`),
    named in the run's diagnostics. A passing run removes a failed run's stale picture."""
    directory.mkdir(parents=True, exist_ok=True)
    picture = picture_path(result, directory)
    if result.passed:
        picture.unlink(missing_ok=True)
    else:
        write_picture(result, directory)
        line = f"path picture (topology and every message's hops): {picture}"
        if line not in result.diagnostics:
            result.diagnostics += "\n" + line
    path = directory / f"{result.scenario.name}--{result.suite}.json"
    path.write_text(json.dumps(result_to_json(result), indent=2, sort_keys=True) + "\n")
    return path


def load_results(directory: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*--*.json"))]


_NOISE = (
    (re.compile(r"<([\w.-]+?)\.[0-9a-f]{8}\.[0-9a-f]{12}@mta-harness\.test>"), r"<\1>"),  # our Message-IDs
    (re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ (?:mail\.\w+ )?"), ""),  # syslog stamp and host
    (re.compile(r"^\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d\.\d{3} "), ""),  # BIND's stamp
    (re.compile(r"@0x[0-9a-f]+ "), ""),  # BIND's client object
    (re.compile(r"#\d+\b"), "#PORT"),  # BIND's client port
    (re.compile(r"\[\d+\]:"), ":"),  # pids
    # Queue ids, by each MTA kind's own format: a 14-letter word is not one.
    (re.compile(r"\b(?:" + "|".join(k.queue_id for k in KINDS.values() if isinstance(k, Mta)) + r")\b"), "QID"),
    (re.compile(r"\b(x?delay|delays|pri|size)=[^,]+, "), ""),
    (re.compile(r"\b\d+(\.\d+)? s\b"), "N s"),
    (re.compile(r":\d{4,5}\b"), ":PORT"),
)


def normalise(detail: str) -> str:
    """An observation without what changes from run to run (ids, times, pids, ports)."""
    text = detail.strip().splitlines()[0] if detail.strip() else ""
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text)
    return text


@dataclass
class Row:
    title: str
    line: int | None
    cells: dict[str, tuple[str, str]]  # suite -> (status, observation)

    @property
    def differs(self) -> bool:
        observed = {(status, normalise(obs)) for status, obs in self.cells.values()}
        return len(observed) > 1


def table(results: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], list[Row], list[str]]]:
    """Per scenario: one result for its header, the rows, and the suites present."""
    by_scenario: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for result in results:
        by_scenario[result["scenario"]][result["suite"]] = result
    out = {}
    for name in sorted(by_scenario):
        per_suite = by_scenario[name]
        suites = [s for s in SUITES if s in per_suite]
        rows: dict[int, Row] = {}
        for suite in suites:
            for step in per_suite[suite]["steps"]:
                if not step["expectation"]:
                    continue
                row = rows.setdefault(step["index"], Row(step["title"], step["line"], {}))
                row.cells[suite] = (step["status"], step["detail"])
        out[name] = (per_suite[suites[0]], [rows[i] for i in sorted(rows)], suites)
    return out


@dataclass
class PathRow:
    """One message of a scenario (or consecutive messages that took the same path on every
    suite), its observed path on each suite."""

    message: str
    paths: dict[str, MessagePath]  # suite -> path (the first message's)
    count: int = 1
    last: str = ""

    @property
    def title(self) -> str:
        if self.count == 1:
            return self.message
        between = ", " if self.count == 2 else " … "
        return f"{self.message}{between}{self.last} ({self.count} messages, the same path)"

    def alike(self, other: PathRow) -> bool:
        return self.paths.keys() == other.paths.keys() and all(
            p.signature() == other.paths[s].signature() and p.origin == other.paths[s].origin
            for s, p in self.paths.items()
        )

    @property
    def differs(self) -> bool:
        return len({p.signature() for p in self.paths.values()}) > 1

    def groups(self) -> list[tuple[list[str], MessagePath]]:
        """The suites that saw the same path (same nodes and outcomes), with the first's path."""
        out: dict[tuple[tuple[str, str, str, str], ...], tuple[list[str], MessagePath]] = {}
        for suite in (s for s in SUITES if s in self.paths):
            path = self.paths[suite]
            out.setdefault(path.signature(), ([], path))[0].append(suite)
        return list(out.values())


def path_table(results: list[dict[str, Any]]) -> dict[str, tuple[TopologyMap | None, list[PathRow]]]:
    """Per scenario: its topology and, per message sent, the path seen on each suite
    (results written before paths were recorded have none)."""
    by_scenario: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for result in results:
        by_scenario[result["scenario"]][result["suite"]] = result
    out: dict[str, tuple[TopologyMap | None, list[PathRow]]] = {}
    for name in sorted(by_scenario):
        per_suite = by_scenario[name]
        topology = next((TopologyMap.from_json(r["topology"]) for r in per_suite.values() if r.get("topology")), None)
        rows: dict[str, PathRow] = {}
        for suite in (s for s in SUITES if s in per_suite):
            for data in per_suite[suite].get("paths", []):
                path = MessagePath.from_json(data)
                rows.setdefault(path.name, PathRow(path.name, {})).paths[suite] = path
        merged: list[PathRow] = []
        for row in rows.values():
            if merged and merged[-1].alike(row):
                merged[-1].count += 1
                merged[-1].last = row.message
            else:
                merged.append(row)
        out[name] = (topology, merged)
    return out


def _markdown_paths(topology: TopologyMap | None, rows: list[PathRow]) -> list[str]:
    if topology is None and not rows:
        return []
    lines = ["<details><summary>topology and message paths</summary>", ""]
    if topology is not None:
        lines += ["```mermaid", diagrams.topology_mermaid(topology), "```", ""]
    for row in rows:
        for suites, path in row.groups():
            mark = "**≠** " if row.differs else ""
            lines.append(f"{mark}message `{_md_escape(row.title)}` on {', '.join(suites)}:")
            lines += ["", "```mermaid", diagrams.sequence_mermaid(path, topology), "```", ""]
    lines += ["</details>", ""]
    return lines


def _html_paths(topology: TopologyMap | None, rows: list[PathRow]) -> list[str]:
    if topology is None and not rows:
        return []
    parts = ["<details class='paths'><summary>topology and message paths</summary>"]
    if topology is not None:
        parts.append(f"<div class='pic'>{diagrams.topology_svg(topology)}</div>")
    if rows:
        # One picture per message for the suites that saw the same path; one per suite where
        # they differ, one under the other.
        parts.append("<table class='paths'><tr><th>message</th><th>observed path</th></tr>")
        for row in rows:
            mark = "≠ " if row.differs else ""
            parts.append(f"<tr class='{'differs' if row.differs else ''}'><td>{mark}{html.escape(row.title)}</td><td>")
            for on, path in row.groups():
                parts.append(
                    f"<div class='group' data-suites='{' '.join(on)}'><b>{', '.join(on)}</b>"
                    f"<div class='pic'>{diagrams.sequence_svg(path, topology, caption=path.message_id)}</div></div>"
                )
            parts.append("</td></tr>")
        parts.append("</table>")
    parts.append("</details>")
    return parts


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Behaviour by MTA version",
        "",
        "Generated by `mta-harness report` from real runs. Each row is an expectation of a scenario;",
        "each cell the outcome and what was observed on that suite. Rows marked **≠** differ between",
        "versions (after removing ids, times and ports). Under each scenario, its topology and the path",
        "each message was observed to take (Mermaid); **≠** marks a message whose path differs between versions.",
        "",
    ]
    versions: dict[str, set[str]] = defaultdict(set)
    for result in results:
        versions[result["suite"]].update(result.get("versions", {}).values())
    lines.append("| suite | versions seen |")
    lines.append("|---|---|")
    for suite in SUITES:
        if suite in versions:
            lines.append(f"| {suite} | {', '.join(sorted(versions[suite]))} |")
    lines.append("")
    pictures = path_table(results)
    for name, (head, rows, suites) in table(results).items():
        lines.append(f"## {name}")
        lines.append("")
        if head.get("description"):
            lines.append(head["description"])
            lines.append("")
        lines.append(f"`{head['file']}`")
        lines.append("")
        lines += _markdown_paths(*pictures[name])
        lines.append("| | expectation | " + " | ".join(suites) + " |")
        lines.append("|---|---|" + "---|" * len(suites))
        for row in rows:
            mark = "**≠**" if row.differs else ""
            cells = []
            for suite in suites:
                status, observation = row.cells.get(suite, ("—", ""))
                obs = _md_escape(normalise(observation))
                cells.append(f"{status.upper()}" + (f"<br>`{obs}`" if obs else ""))
            lines.append(f"| {mark} | {_md_escape(row.title)} (line {row.line}) | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def html_page(results: list[dict[str, Any]]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>mta-harness: behaviour by MTA version</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:13px}"
        "tr.differs td{background:#fff4c2}td.failed{background:#f8d0d0}code{font-size:12px;white-space:pre-wrap}"
        "details.paths{margin:0 0 1em}details.paths summary{cursor:pointer;font-weight:bold}"
        "div.pic{overflow-x:auto;max-width:100%}table.paths td{background:#fff}table.paths tr.differs td{background:#fff4c2}"
        "div.group>b{font-size:12px;color:#555}"
        "</style></head><body>",
        "<h1>Behaviour by MTA version</h1>",
        "<p>Each row is an expectation; highlighted rows differ between versions. Under each scenario, its topology"
        " and the path each message was observed to take on each version (hover an arrow for what the log said).</p>",
    ]
    pictures = path_table(results)
    for name, (head, rows, suites) in table(results).items():
        parts.append(
            f"<h2>{html.escape(name)}</h2><p>{html.escape(head.get('description', ''))} <code>{html.escape(head['file'])}</code></p>"
        )
        parts += _html_paths(*pictures[name])
        parts.append("<table><tr><th>expectation</th>" + "".join(f"<th>{s}</th>" for s in suites) + "</tr>")
        for row in rows:
            parts.append(
                f"<tr class='{'differs' if row.differs else ''}'><td>{html.escape(row.title)} (line {row.line})</td>"
            )
            for suite in suites:
                status, observation = row.cells.get(suite, ("—", ""))
                css = "failed" if status in ("failed", "error") else ""
                parts.append(
                    f"<td class='{css}'><b>{status}</b><br><code>{html.escape(normalise(observation))}</code></td>"
                )
            parts.append("</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(results: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    md, page = out.with_suffix(".md"), out.with_suffix(".html")
    md.write_text(markdown(results) + "\n")
    page.write_text(html_page(results) + "\n")
    return md, page
