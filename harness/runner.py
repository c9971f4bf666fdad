"""Carry out a scenario's steps against a running topology and judge its expectations.

Actions change the topology (send, stop, refuse, flush, ...); expectations observe it
(captures, logs, queues, mailboxes, DNS) and wait, by polling, until they hold or their
time is up. The first failed expectation ends the run; its report shows, per node, the log
lines of every message sent, each MTA's queue and each SMTP transcript; with transcripts on
(``harness.topology.capture``), also the SMTP dialogue of every hop of the message the
failure is about, as captured on the wire.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from harness.errors import ExpectationFailed, HarnessError
from harness.kinds import Mta, capability
from harness.observe import logs as logparse
from harness.observe import transcripts as smtp_transcripts
from harness.observe.paths import MessagePath, observe
from harness.scenario.model import Scenario, Step
from harness.topology import Topology

PASSED, FAILED, DONE, NOT_RUN, ERROR = "passed", "failed", "done", "not run", "error"


@dataclass
class StepResult:
    index: int
    step: Step
    status: str
    detail: str = ""
    seconds: float = 0.0

    def line(self, details: bool = False) -> str:
        where = f"line {self.step.line}" if self.step.line else ""
        mark = {PASSED: "PASS", FAILED: "FAIL", DONE: " ok ", NOT_RUN: "skip", ERROR: "ERR "}[self.status]
        text = f"[{mark}] {self.index + 1:>2}. {self.step.describe()}  ({where}, {self.seconds:.1f} s)"
        if self.detail and (self.status != PASSED or details):
            text += "\n" + "\n".join("       " + ln for ln in self.detail.splitlines())
        return text


@dataclass
class RunResult:
    scenario: Scenario
    suite: str
    versions: dict[str, str] = field(default_factory=dict)
    # Per node: what the harness overrode of the user's own files (``files:``).
    notes: dict[str, list[str]] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    diagnostics: str = ""
    error: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    # Per message sent: the nodes it passed through and each hop's outcome (observe/paths.py).
    paths: list[MessagePath] = field(default_factory=list)
    # Every SMTP session of the run as text, when transcripts were on.
    transcripts: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.error and all(r.status in (PASSED, DONE) for r in self.steps)

    def report(self, details: bool = False) -> str:
        """The run as text; ``details`` also shows what each passing expectation observed."""
        lines = [f"scenario {self.scenario.name} ({self.scenario.file}) on {self.suite}"]
        for node, version in self.versions.items():
            lines.append(f"  {node}: {version}")
        for node, notes in self.notes.items():
            lines += [f"  {node}: {note}" for note in notes]
        lines += [r.line(details) for r in self.steps]
        if self.error:
            lines.append(f"error: {self.error}")
        verdict = "PASSED" if self.passed else "FAILED"
        expectations = [r for r in self.steps if r.step.expectation]
        held = sum(r.status == PASSED for r in expectations)
        lines.append(f"{verdict}: {held} of {len(expectations)} expectations held")
        if details:
            lines += self.time_summary()
        if details and self.transcripts:
            lines += ["", "=== SMTP transcripts (every session of the run) ===", *self.transcripts]
        if self.diagnostics:
            lines.append(self.diagnostics)
        return "\n".join(lines)

    def time_summary(self, slowest: int = 5) -> list[str]:
        """Where the run's time went: bring-up, teardown, and the slowest steps."""
        total = sum(r.seconds for r in self.steps)
        lines = [
            f"time: up {self.timings.get('up', 0.0):.1f} s, steps {total:.1f} s, down {self.timings.get('down', 0.0):.1f} s"
        ]
        for r in sorted(self.steps, key=lambda r: r.seconds, reverse=True)[:slowest]:
            if r.seconds >= 0.05:
                where = f"line {r.step.line}" if r.step.line else ""
                lines.append(f"  {r.seconds:5.1f} s  {r.index + 1:>2}. {r.step.describe()}  ({where})")
        return lines


def run_scenario(
    scenario: Scenario, suite: str, keep: bool = False, keep_on_failure: bool = False, transcripts: bool = False
) -> RunResult:
    """Start the topology, run every step, tear down (unless asked to keep it).

    ``transcripts`` records every SMTP session (as does the scenario key ``transcripts``)."""
    result = RunResult(scenario, suite)
    topology = Topology(scenario, suite=suite, keep=keep or keep_on_failure, transcripts=transcripts)
    try:
        topology.up()
    except HarnessError as exc:
        result.error = str(exc)
        return result
    try:
        result.versions = {name: handle.version for name, handle in topology.nodes.items()}
        result.notes = {name: handle.notes for name, handle in topology.nodes.items() if handle.notes}
        execute(topology, result)
        result.paths = observe(topology)
        result.timings = dict(topology.timings)
        if topology.transcripts:
            result.transcripts = _all_sessions(topology)
    finally:
        if not keep and not (keep_on_failure and not result.passed):
            started = time.monotonic()
            topology.down()
            result.timings["down"] = time.monotonic() - started
        else:
            topology.subnet_lock.release()  # it stays up; other runs meet the engine's own overlap error
            result.diagnostics += (
                "\n"
                + "topology kept running:\n"
                + topology.describe()
                + "\nremove it with: mta-harness down "
                + scenario.name
            )
    return result


def execute(topology: Topology, result: RunResult) -> None:
    steps = topology.scenario.steps
    for index, step in enumerate(steps):
        started = time.monotonic()
        spec = step.resolved(topology.suite)
        try:
            detail = spec.run(topology)
            status = PASSED if spec.expectation else DONE
        except ExpectationFailed as exc:
            status, detail = FAILED, str(exc)
        except HarnessError as exc:
            status, detail = ERROR, f"{type(exc).__name__}: {exc}"
        result.steps.append(StepResult(index, step, status, detail, time.monotonic() - started))
        if status in (FAILED, ERROR):
            for later in range(index + 1, len(steps)):
                result.steps.append(StepResult(later, steps[later], NOT_RUN))
            result.diagnostics = diagnostics(topology) + hop_transcripts(topology, getattr(spec, "message", None))
            return


# ---- diagnostics ------------------------------------------------------------------------------
def diagnostics(topology: Topology, tail: int = 15) -> str:
    """Per node: the log lines of every message sent, the queue or captures, and each SMTP
    transcript."""
    out = ["", "=== diagnostics ==="]
    for sent in topology.sent.values():
        out.append(sent.describe())
    for handle in topology.nodes.values():
        out.append(f"--- {handle.name} ({handle.node.kind}, {handle.version}) ---")
        try:
            status = handle.container.status()
            text = handle.log_text()
            lines = handle.kind.parse_log(text)
            for sent in topology.sent.values():
                matching = logparse.lines_for_message(lines, sent.message.message_id)
                if matching:
                    out.append(f"  log lines of message '{sent.name}':")
                    out += [f"    {line.raw}" for line in matching]
            # Lines without a queue id (warnings, connect failures) matter too.
            out.append(f"  last {tail} log lines:")
            out += [f"    {raw}" for raw in text.splitlines()[-tail:]]
            if status == "running":
                out += [f"  {line}" for line in handle.state()]
            else:
                out.append(f"  container is {status}")
        except Exception as exc:  # diagnostics must never hide the failure they explain
            out.append(f"  (could not read: {exc})")
    return "\n".join(out)


def _all_sessions(topology: Topology) -> list[str]:
    try:
        described = smtp_transcripts.describe(topology.sessions()) or ["(no SMTP session was captured)"]
        return [f"({problem})" for problem in topology.capture_problems] + described
    except Exception as exc:  # a report must never hide the run it reports
        return [f"(could not read the captures: {exc})"]


def hop_transcripts(topology: Topology, message: object = None) -> str:
    """The SMTP dialogue of every hop of a message: the step's ``message`` (a send's id),
    else the last message sent; every session when no session can be tied to it. Empty
    when transcripts are off."""
    if not topology.transcripts:
        return ""
    try:
        sessions = topology.sessions()
    except Exception as exc:  # diagnostics must never hide the failure they explain
        return f"\n=== SMTP transcripts ===\n(could not read the captures: {exc})"
    sent = topology.sent.get(message) if isinstance(message, str) else None
    if sent is None and topology.sent:
        sent = list(topology.sent.values())[-1]
    out = ["", "=== SMTP transcripts ===", *(f"({problem})" for problem in topology.capture_problems)]
    hops = []
    if sent is not None:
        hops = smtp_transcripts.hops_of(sessions, sent.message.message_id, sent.message.sender, sent.message.recipients)
        encrypted = smtp_transcripts.encrypted_hops(sessions, _handovers(topology, sent.message.message_id, sessions))
        hops = sorted({id(s): s for s in hops + encrypted}.values(), key=lambda s: (s.start, s.key))
    if hops:
        out.append(f"the hops of message '{sent.name}' {sent.message.message_id}:" if sent else "")
        out += smtp_transcripts.describe(hops)
    else:
        about = f"no SMTP session carried message '{sent.name}'; " if sent is not None else ""
        out.append(f"{about}every SMTP session of the run ({len(sessions)}):")
        out += smtp_transcripts.describe(sessions) or ["(no SMTP session was captured)"]
    return "\n".join(out)


def _handovers(
    topology: Topology, message_id: str, sessions: list[smtp_transcripts.Session]
) -> list[smtp_transcripts.Handover]:
    """Where each MTA logged handing the message over (to tie encrypted sessions to it)."""
    if not any(s.tls for s in sessions):
        return []
    near = sessions[0].start
    result = []
    for handle in topology.nodes.values():
        if capability(handle.node, Mta) is None:
            continue
        try:
            deliveries = handle.deliveries(message_id)
        except Exception:  # a node's log that cannot be read ties nothing
            continue
        for delivery in deliveries:
            # the session that brought it to this node, where this node queued it as this qid
            brought = [s.end for s in sessions if s.server_node == handle.name and delivery.qid in s.queue_ids]
            arrived = brought[0] if brought else None
            found = smtp_transcripts.handover(handle.name, delivery.relay, delivery.raw, near, arrived)
            if found is not None:
                result.append(found)
    return result
