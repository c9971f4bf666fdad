"""Carry out a scenario's steps against a running topology and judge its expectations.

Actions change the topology (send, stop, refuse, flush, ...); expectations observe it
(captures, logs, queues, mailboxes, DNS) and wait, by polling, until they hold or their
time is up. The first failed expectation ends the run; its report shows, per node, the log
lines of every message sent, each MTA's queue and each SMTP transcript.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.core.waits import Poll, poll_until
from harness.errors import ExpectationFailed, HarnessError
from harness.observe import logs as logparse
from harness.relaycheck import check_relay
from harness.render.common import dns_address_for
from harness.render.sink import AGENT
from harness.scenario.model import Scenario, Step
from harness.scenario.steps import ACTIONS_BY_NAME
from harness.topology import Topology

DEFAULT_WITHIN = 30.0
NOT_CAPTURED_WITHIN = 5.0

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
    steps: list[StepResult] = field(default_factory=list)
    diagnostics: str = ""
    error: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.error and all(r.status in (PASSED, DONE) for r in self.steps)

    def report(self, details: bool = False) -> str:
        """The run as text; ``details`` also shows what each passing expectation observed."""
        lines = [f"scenario {self.scenario.name} ({self.scenario.file}) on {self.suite}"]
        for node, version in self.versions.items():
            lines.append(f"  {node}: {version}")
        lines += [r.line(details) for r in self.steps]
        if self.error:
            lines.append(f"error: {self.error}")
        verdict = "PASSED" if self.passed else "FAILED"
        expectations = [
            r for r in self.steps if r.step.action in ACTIONS_BY_NAME and ACTIONS_BY_NAME[r.step.action].expectation
        ]
        held = sum(r.status == PASSED for r in expectations)
        lines.append(f"{verdict}: {held} of {len(expectations)} expectations held")
        if self.diagnostics:
            lines.append(self.diagnostics)
        return "\n".join(lines)


def run_scenario(scenario: Scenario, suite: str, keep: bool = False, keep_on_failure: bool = False) -> RunResult:
    """Start the topology, run every step, tear down (unless asked to keep it)."""
    result = RunResult(scenario, suite)
    topology = Topology(scenario, suite=suite, keep=keep or keep_on_failure)
    try:
        topology.up()
    except HarnessError as exc:
        result.error = str(exc)
        return result
    try:
        result.versions = {name: handle.version for name, handle in topology.nodes.items()}
        execute(topology, result)
        result.timings = dict(topology.timings)
    finally:
        if not keep and not (keep_on_failure and not result.passed):
            topology.down()
        else:
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
        args = step.resolved(topology.suite)
        try:
            detail = ACTIONS[step.action](topology, args) or ""
            status = PASSED if ACTIONS_BY_NAME[step.action].expectation else DONE
        except ExpectationFailed as exc:
            status, detail = FAILED, str(exc)
        except HarnessError as exc:
            status, detail = ERROR, f"{type(exc).__name__}: {exc}"
        result.steps.append(StepResult(index, step, status, detail, time.monotonic() - started))
        if status in (FAILED, ERROR):
            for later in range(index + 1, len(steps)):
                result.steps.append(StepResult(later, steps[later], NOT_RUN))
            result.diagnostics = diagnostics(topology)
            return


# ---- diagnostics ------------------------------------------------------------------------------
def diagnostics(topology: Topology, tail: int = 15) -> str:
    """Per node: the log lines of every message sent, the queue, and each SMTP transcript."""
    out = ["", "=== diagnostics ==="]
    for sent in topology.sent.values():
        out.append(sent.describe())
    for handle in topology.nodes.values():
        out.append(f"--- {handle.name} ({handle.node.kind}, {handle.version}) ---")
        try:
            status = handle.container.status()
            text = handle.log_text()
            lines = logparse.parse_lines(text)
            for sent in topology.sent.values():
                matching = logparse.lines_for_message(lines, sent.message.message_id)
                if matching:
                    out.append(f"  log lines of message '{sent.name}':")
                    out += [f"    {line.raw}" for line in matching]
            # Lines without a queue id (warnings, connect failures) matter too.
            out.append(f"  last {tail} log lines:")
            out += [f"    {raw}" for raw in text.splitlines()[-tail:]]
            if handle.node.is_mta and status == "running":
                queue = handle.service.queue_text(handle.container).strip()
                out.append("  queue: " + ("empty" if not queue or "is empty" in queue else ""))
                if queue and "is empty" not in queue:
                    out += [f"    {ln}" for ln in queue.splitlines()]
            if handle.node.kind == "sink" and status == "running":
                captures = handle.captures()
                out.append(f"  captures: {len(captures)}")
                for capture in captures:
                    out.append(
                        f"    {capture['message_id']} from {capture['peer']} <{capture['mail_from']}> -> {capture['rcpt_to']}"
                        + (
                            f" auth={capture['auth_user']}/{capture['auth_mechanism']}"
                            if capture.get("auth_user")
                            else ""
                        )
                    )
            if status != "running":
                out.append(f"  container is {status}")
        except Exception as exc:  # diagnostics must never hide the failure they explain
            out.append(f"  (could not read: {exc})")
    return "\n".join(out)


# ---- actions ------------------------------------------------------------------------------------
Handler = Callable[[Topology, dict[str, Any]], "str | None"]


def _send(topo: Topology, a: dict[str, Any]) -> str:
    sent = topo.send(
        a["id"],
        a["from"],
        a["to"],
        mail_from=a.get("mail_from"),
        server=a.get("server"),
        server_ip=a.get("server_ip"),
        port=a.get("port", 25),
        helo=a.get("helo"),
        auth=a.get("auth"),
        starttls=a.get("starttls", False),
        subject=a.get("subject"),
        body=a.get("body"),
        headers=a.get("headers"),
    )
    expect = a.get("expect", "accepted")
    if expect == "accepted" and not sent.accepted:
        raise ExpectationFailed("the message was not accepted:\n" + sent.describe())
    if expect == "rejected" and sent.accepted:
        raise ExpectationFailed("the message was accepted, but a rejection was expected:\n" + sent.describe())
    return sent.describe()


def _message_id(topo: Topology, name: str) -> str:
    return topo.sent[name].message.message_id


def _within(a: dict[str, Any], default: float = DEFAULT_WITHIN) -> float:
    return float(a.get("within", default))


def _expect_smtp(topo: Topology, a: dict[str, Any]) -> str:
    sent = topo.sent[a["message"]]
    replies = [r for r in sent.transcript if r.stage == a["stage"]]
    if a.get("rcpt"):
        replies = [r for r in replies if r.argument == a["rcpt"]]
    if not replies:
        raise ExpectationFailed(
            f"the session never reached {a['stage']}"
            + (f" for {a['rcpt']}" if a.get("rcpt") else "")
            + ":\n"
            + sent.describe()
        )
    for reply in replies:
        if "code" in a and reply.code != a["code"]:
            raise ExpectationFailed(f"expected {a['code']} at {a['stage']}, got: {reply}")
        if "text" in a and not re.search(a["text"], reply.text):
            raise ExpectationFailed(f"the {a['stage']} reply does not match /{a['text']}/: {reply}")
    return "; ".join(str(reply) for reply in replies)


def _captures_of(topo: Topology, sink: str, message_id: str) -> list[dict[str, Any]]:
    return [c for c in topo.node(sink).captures() if c.get("message_id") == message_id]


def _expect_captured(topo: Topology, a: dict[str, Any]) -> str:
    message_id = _message_id(topo, a["message"])
    count = int(a.get("count", 1))
    result = poll_until(lambda: _poll_captures(topo, a["at"], message_id, count), _within(a))
    captures = result.value
    if not result.done:
        raise ExpectationFailed(
            f"{a['at']} captured {len(captures)} of {count} expected cop(ies) of '{a['message']}' within {_within(a):.0f} s"
        )
    if len(captures) != count:
        raise ExpectationFailed(f"{a['at']} captured '{a['message']}' {len(captures)} times, expected {count}")
    for capture in captures:
        problems = []
        if "rcpt" in a and sorted(capture["rcpt_to"]) != sorted(a["rcpt"]):
            problems.append(f"recipients {capture['rcpt_to']} != {a['rcpt']}")
        if "mail_from" in a and capture["mail_from"] != a["mail_from"]:
            problems.append(f"sender <{capture['mail_from']}> != <{a['mail_from']}>")
        if "peer" in a and capture["peer"] not in topo.address_of(a["peer"]):
            peer_node = next((n for n in topo.scenario.nodes if capture["peer"] in topo.address_of(n.name)), None)
            problems.append(
                f"peer was {capture['peer']} ({peer_node.name if peer_node else 'unknown'}), not {a['peer']}"
            )
        if "auth_user" in a and capture.get("auth_user") != a["auth_user"]:
            problems.append(f"authenticated as {capture.get('auth_user')!r}, not {a['auth_user']!r}")
        if "auth_mechanism" in a and capture.get("auth_mechanism") != a["auth_mechanism"]:
            problems.append(f"mechanism {capture.get('auth_mechanism')!r}, not {a['auth_mechanism']!r}")
        if "tls" in a and bool(capture.get("tls")) != a["tls"]:
            problems.append("the session was " + ("" if capture.get("tls") else "not ") + "encrypted")
        if problems:
            raise ExpectationFailed(f"{a['at']} captured '{a['message']}', but: " + "; ".join(problems))
    first = captures[0]
    peer = next((n.name for n in topo.scenario.nodes if first["peer"] in topo.address_of(n.name)), first["peer"])
    auth = f" auth={first['auth_user']}/{first['auth_mechanism']}" if first.get("auth_user") else ""
    auth += " tls" if first.get("tls") else ""
    return f"captured at {a['at']} from {peer} <{first['mail_from']}> -> {', '.join(first['rcpt_to'])}{auth}"


def _poll_captures(topo: Topology, sink: str, message_id: str, count: int) -> Poll[list[dict[str, Any]]]:
    captures = _captures_of(topo, sink, message_id)
    return Poll(len(captures) >= count, captures, f"{len(captures)} captures")


def _expect_not_captured(topo: Topology, a: dict[str, Any]) -> str:
    message_id = _message_id(topo, a["message"])
    sinks = [a["at"]] if a.get("at") else [n.name for n in topo.scenario.nodes if n.kind == "sink"]

    def check() -> Poll[list[str]]:
        hits = [s for s in sinks if topo.node(s).container.status() == "running" and _captures_of(topo, s, message_id)]
        return Poll(bool(hits), hits)

    result = poll_until(check, _within(a, NOT_CAPTURED_WITHIN), interval=0.25, max_interval=0.5)
    if result.done:
        raise ExpectationFailed(f"'{a['message']}' was captured at {', '.join(result.value)}, but nothing was expected")
    return f"no capture at {', '.join(sinks)} in {_within(a, NOT_CAPTURED_WITHIN):.0f} s"


def _expect_delivery(topo: Topology, a: dict[str, Any]) -> str:
    node = topo.node(a["at"])
    message_id = _message_id(topo, a["message"])

    def matches(d: logparse.Delivery) -> bool:
        return (
            d.status == a["status"]
            and ("rcpt" not in a or a["rcpt"] in d.recipients)
            and ("relay" not in a or re.search(a["relay"], d.relay) is not None)
            and ("dsn" not in a or re.search(a["dsn"], d.dsn) is not None)
            and ("reason" not in a or re.search(a["reason"], d.reason) is not None)
        )

    def check() -> Poll[list[logparse.Delivery]]:
        found = node.deliveries(message_id)
        return Poll(any(matches(d) for d in found), found)

    result = poll_until(check, _within(a))
    if not result.done:
        seen = "\n".join(f"  {d.raw}" for d in result.value) or "  (no delivery attempt of it in the log)"
        raise ExpectationFailed(
            f"no '{a['status']}' delivery of '{a['message']}' at {a['at']} matching {_criteria(a)}; seen:\n{seen}"
        )
    hit = next(d for d in result.value if matches(d))
    return hit.raw


def _criteria(a: dict[str, Any]) -> str:
    return ", ".join(f"{k}={a[k]!r}" for k in ("rcpt", "relay", "dsn", "reason") if k in a) or "(any)"


def _expect_queued(topo: Topology, a: dict[str, Any]) -> str:
    node = topo.node(a["at"])
    message_id = _message_id(topo, a["message"])
    if a.get("absent"):
        entries = node.queued(message_id)
        if entries:
            raise ExpectationFailed(
                f"'{a['message']}' is queued at {a['at']}: " + "; ".join(f"{e.qid}: {e.reason}" for e in entries)
            )
        return f"'{a['message']}' not queued at {a['at']}"

    def check() -> Poll[list[Any]]:
        entries = node.queued(message_id)
        ok = bool(entries) and ("reason" not in a or any(re.search(a["reason"], e.reason) for e in entries))
        return Poll(ok, entries)

    result = poll_until(check, _within(a))
    if not result.done:
        raise ExpectationFailed(
            f"'{a['message']}' is not queued at {a['at']}"
            + (f" with a reason matching /{a['reason']}/" if "reason" in a else "")
            + f"; queue:\n{node.service.queue_text(node.container).strip() or '(empty)'}"
        )
    return "; ".join(f"{e.qid}: {e.reason}" for e in result.value)


def _expect_queue_empty(topo: Topology, a: dict[str, Any]) -> str:
    node = topo.node(a["at"])
    result = poll_until(lambda: Poll(not (q := node.queue()), q), _within(a))
    if not result.done:
        raise ExpectationFailed(
            f"the queue of {a['at']} is not empty: " + ", ".join(f"{e.qid} ({e.reason})" for e in result.value)
        )
    return f"queue of {a['at']} empty"


def _expect_log(topo: Topology, a: dict[str, Any]) -> str:
    node = topo.node(a["at"])
    pattern = re.compile(a["match"])

    def lines() -> list[str]:
        text = node.log_text()
        if "message" not in a:
            return text.splitlines()
        parsed = logparse.parse_lines(text)
        return [line.raw for line in logparse.lines_for_message(parsed, _message_id(topo, a["message"]))]

    if a.get("absent"):
        hits = [line for line in lines() if pattern.search(line)]
        if hits:
            raise ExpectationFailed(f"{a['at']}'s log has lines matching /{a['match']}/:\n" + "\n".join(hits[:10]))
        return f"no line of {a['at']}'s log matches"
    result = poll_until(lambda: Poll(bool(h := [ln for ln in lines() if pattern.search(ln)]), h), _within(a))
    if not result.done:
        raise ExpectationFailed(f"no line of {a['at']}'s log matches /{a['match']}/ within {_within(a):.0f} s")
    return result.value[0]


def _expect_mailbox(topo: Topology, a: dict[str, Any]) -> str:
    node = topo.node(a["at"])
    message_id = _message_id(topo, a["message"])

    def copies() -> int:
        return node.mailbox(a["user"]).count(f"Message-ID: {message_id}")

    if a.get("absent"):
        if copies():
            raise ExpectationFailed(f"the mailbox of {a['user']} at {a['at']} holds '{a['message']}'")
        return f"not in the mailbox of {a['user']} at {a['at']}"
    wanted = a.get("count")
    result = poll_until(lambda: Poll((n := copies()) >= (wanted or 1), n), _within(a))
    if not result.done:
        raise ExpectationFailed(f"the mailbox of {a['user']} at {a['at']} does not hold '{a['message']}'")
    if wanted is not None and result.value != wanted:
        raise ExpectationFailed(
            f"the mailbox of {a['user']} at {a['at']} holds {result.value} copies of '{a['message']}', expected {wanted}"
        )
    return f"{result.value} cop{'y' if result.value == 1 else 'ies'} in the mailbox of {a['user']} at {a['at']}"


def _expect_dns(topo: Topology, a: dict[str, Any]) -> str:
    answer = dns_query(topo, a["name"], a.get("type", "A"))
    rcode = a.get("rcode", "NOERROR")
    if answer["rcode"] != rcode:
        raise ExpectationFailed(
            f"DNS {a.get('type', 'A')} {a['name']}: {answer['rcode']} {answer['answer']}, expected {rcode}"
        )
    if "answer" in a and sorted(answer["answer"]) != sorted(a["answer"]):
        raise ExpectationFailed(
            f"DNS {a.get('type', 'A')} {a['name']}: answer {answer['answer']}, expected {a['answer']}"
        )
    return f"{answer['rcode']} {sorted(answer['answer'])}"


def dns_query(topo: Topology, name: str, rtype: str) -> dict[str, Any]:
    """Ask the topology's BIND with dnspython, from a client or sink node inside the topology."""
    server = topo.scenario.dns_node
    if server is None:
        raise HarnessError(f"scenario '{topo.scenario.name}' has no DNS server to ask")
    asker = next((n for n in topo.scenario.nodes if n.kind in ("client", "sink")), None)
    if asker is None:
        raise HarnessError("asking DNS needs a client or sink node in the topology (it runs dnspython)")
    ip = dns_address_for(topo.scenario, asker, server)
    output = topo.node(asker.name).exec(["python3", f"{AGENT}/dns_query.py", ip, name, rtype])
    return dict(json.loads(output.strip().splitlines()[-1]))


def _expect_command(topo: Topology, a: dict[str, Any]) -> str:
    node = topo.node(a["at"])
    code = int(a.get("code", 0))

    def check() -> Poll[tuple[int, str]]:
        result = node.container.exec(["sh", "-c", a["run"]])
        ok = result.code == code
        if "match" in a:
            found = re.search(a["match"], result.output) is not None
            ok = ok and (found != bool(a.get("absent")))
        return Poll(ok, (result.code, result.output))

    result = poll_until(check, float(a.get("within", 0)))
    exit_code, output = result.value
    if not result.done:
        wanted = f"exit {code}" + (
            f" and output {'not ' if a.get('absent') else ''}matching /{a['match']}/" if "match" in a else ""
        )
        raise ExpectationFailed(
            f"'{a['run']}' at {a['at']}: expected {wanted}, got exit {exit_code}:\n{output.strip()[-1500:]}"
        )
    return f"$ {a['run']}\n{output.strip()}"


def _relay_check(topo: Topology, a: dict[str, Any]) -> str:
    report = check_relay(
        topo,
        a["from"],
        a["server"],
        a["domain"],
        within=float(a.get("within", 10)),
        port=a.get("port", 25),
        server_name=a.get("server_name"),
    )
    expected_open = a.get("expect", "closed") == "open"
    if report.open != expected_open:
        raise ExpectationFailed(f"expected the relay to be {a.get('expect', 'closed')}:\n{report.text()}")
    return report.text()


def _simple(method: str) -> Handler:
    def handler(topo: Topology, a: dict[str, Any]) -> None:
        node = topo.node(a["node"])
        if method in ("disconnect", "reconnect"):
            getattr(node, method)(a.get("network"))
        else:
            getattr(node, method)()

    return handler


def _reset_captures(topo: Topology, a: dict[str, Any]) -> None:
    names = [a["at"]] if a.get("at") else [n.name for n in topo.scenario.nodes if n.kind == "sink"]
    for name in names:
        topo.node(name).reset_captures()


def _sleep(topo: Topology, a: dict[str, Any]) -> None:
    time.sleep(float(a["seconds"]))


ACTIONS: dict[str, Handler] = {
    "send": _send,
    "expect_smtp": _expect_smtp,
    "expect_captured": _expect_captured,
    "expect_not_captured": _expect_not_captured,
    "expect_delivery": _expect_delivery,
    "expect_queued": _expect_queued,
    "expect_queue_empty": _expect_queue_empty,
    "expect_log": _expect_log,
    "expect_mailbox": _expect_mailbox,
    "expect_dns": _expect_dns,
    "expect_command": _expect_command,
    "relay_check": _relay_check,
    "stop": _simple("stop"),
    "start": _simple("start"),
    "refuse": _simple("refuse"),
    "restore": _simple("restore"),
    "disconnect": _simple("disconnect"),
    "reconnect": _simple("reconnect"),
    "flush": _simple("flush"),
    "reset_captures": _reset_captures,
    "sleep": _sleep,
}

assert set(ACTIONS) == set(ACTIONS_BY_NAME), "every action in the step registry needs a handler"
