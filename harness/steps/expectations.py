"""Expectations: steps that observe the topology (SMTP replies, captures, logs, queues,
mailboxes, DNS, commands) and wait, by polling, until they hold or their time is up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.core.waits import Poll, poll_until
from harness.errors import ExpectationFailed
from harness.kinds import AddressTester, CaptureSink, capability, names_with
from harness.observe.logs import Delivery, lines_for_message
from harness.observe.queue import QueueEntry
from harness.relaycheck import check_relay
from harness.steps.base import DEFAULT_PORT, DEFAULT_WITHIN, STEPS, Checks, StepSpec, key
from harness.steps.view import TopologyView
from harness.topology.sending import Sent

STAGES = ("connect", "helo", "starttls", "auth", "mail", "rcpt", "data")
CAPTURE_TLS_MODES = ("none", "starttls", "implicit")
STATUSES = ("sent", "deferred", "bounced", "expired")
# The result words of RFC 8601's registry for each method (what the sink's checks give).
SPF_RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
DKIM_RESULTS = ("pass", "fail", "policy", "neutral", "none", "temperror", "permerror")
DMARC_RESULTS = ("pass", "fail", "none", "temperror", "permerror")
NOT_CAPTURED_WITHIN = 5.0
SETTLE = 0.5
RELAY_WITHIN = 10.0


def _within(meaning: str = f"how long to wait for it to become true (default {DEFAULT_WITHIN:g})") -> Any:
    return key(meaning, "seconds", default=DEFAULT_WITHIN)


def message_id(topo: TopologyView, name: str) -> str:
    return topo.sent[name].message.message_id


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectSmtp(StepSpec):
    action = "expect_smtp"
    meaning = "A reply in the SMTP transcript of an earlier `send`."
    expectation = True
    message: str = key("the message whose session is meant", "message", required=True)
    stage: str = key("the command whose reply is checked", required=True, choices=STAGES)
    code: int | None = key("the expected reply code", "int")
    text: str | None = key("a pattern the reply text must match", "regex")
    rcpt: str | None = key("stage rcpt: which recipient's reply (default: every one)")
    error: str | None = key(
        "a pattern the session's error must match: it ended without a reply at `stage` "
        "(e.g. stage connect: 'Network is unreachable')",
        "regex",
    )

    def run(self, topo: TopologyView) -> str:
        sent = topo.sent[self.message]
        if self.error is not None:
            return self.check_error(sent)
        replies = [r for r in sent.transcript if r.stage == self.stage]
        if self.rcpt:
            replies = [r for r in replies if r.argument == self.rcpt]
        if not replies:
            raise ExpectationFailed(
                f"the session never reached {self.stage}"
                + (f" for {self.rcpt}" if self.rcpt else "")
                + ":\n"
                + sent.describe()
            )
        for reply in replies:
            if self.code is not None and reply.code != self.code:
                raise ExpectationFailed(f"expected {self.code} at {self.stage}, got: {reply}")
            if self.text is not None and not re.search(self.text, reply.text):
                raise ExpectationFailed(f"the {self.stage} reply does not match /{self.text}/: {reply}")
        return "; ".join(str(reply) for reply in replies)

    def check_error(self, sent: Sent) -> str:
        assert self.error is not None
        if any(r.stage == self.stage for r in sent.transcript) or sent.error is None:
            raise ExpectationFailed(
                f"expected the session to fail at {self.stage} with an error matching /{self.error}/, "
                "but it did not:\n" + sent.describe()
            )
        if not re.search(self.error, sent.error):
            raise ExpectationFailed(f"the session's error does not match /{self.error}/:\n" + sent.describe())
        return f"{self.stage} failed: {sent.error}"


def capture_tls_mode(capture: dict[str, Any]) -> str:
    """none, starttls or implicit; a capture without the field (an older sink) knew STARTTLS only."""
    return str(capture.get("tls_mode") or ("starttls" if capture.get("tls") else "none"))


def captures_of(topo: TopologyView, sink: str, message_id: str) -> list[dict[str, Any]]:
    return [c for c in topo.node(sink).captures() if c.get("message_id") == message_id]


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectCaptured(StepSpec):
    action = "expect_captured"
    meaning = (
        "A sink captured the message, exactly `count` times: after the last expected copy it "
        "keeps watching for `settle` seconds, so a late duplicate fails the step."
    )
    expectation = True
    at: str = key("the sink", "sink_node", required=True)
    message: str = key("the message", "message", required=True)
    rcpt: tuple[str, ...] | None = key("the exact envelope recipients of the capture", "addresses")
    mail_from: str | None = key("the envelope sender of the capture")
    peer: str | None = key("the node the sink's client was (by address)", "node")
    auth_user: str | None = key("the identity the client authenticated as")
    auth_mechanism: str | None = key("the SASL mechanism the client used")
    tls: bool | None = key("whether the session was encrypted (STARTTLS or implicit TLS)", "bool")
    tls_mode: str | None = key(
        "how the session was encrypted: `none`, `starttls` or `implicit` (SMTPS)", choices=CAPTURE_TLS_MODES
    )
    spf: str | None = key("the sink's SPF verdict (client address, HELO, MAIL FROM)", choices=SPF_RESULTS)
    spf_reason: str | None = key("a pattern the SPF verdict's reason must match", "regex")
    dkim: str | None = key(
        "the sink's DKIM verdict: `none` without a signature; else the first passing signature's, "
        "or the first signature's (with `dkim_domain`: that domain's signature's)",
        choices=DKIM_RESULTS,
    )
    dkim_domain: str | None = key("the signing domain (d=) whose signature `dkim` is about")
    dkim_reason: str | None = key("a pattern the DKIM verdict's reason must match", "regex")
    dmarc: str | None = key("the sink's DMARC verdict for the From domain", choices=DMARC_RESULTS)
    dmarc_reason: str | None = key("a pattern the DMARC verdict's reason must match", "regex")
    authentication_results: str | None = key(
        "a pattern the Authentication-Results header the sink would add must match", "regex"
    )
    count: int = key("how many captures of the message (default 1)", "int", default=1)
    settle: float = key(
        f"how long to watch for a copy more after the last expected one (default {SETTLE:g})",
        "seconds",
        default=SETTLE,
    )
    within: float = _within()

    def run(self, topo: TopologyView) -> str:
        mid = message_id(topo, self.message)

        def enough() -> Poll[list[dict[str, Any]]]:
            found = captures_of(topo, self.at, mid)
            return Poll(len(found) >= self.count, found, f"{len(found)} captures")

        result = poll_until(enough, self.within)
        if not result.done:
            raise ExpectationFailed(
                f"{self.at} captured {len(result.value)} of {self.count} expected cop(ies) of "
                f"'{self.message}' within {self.within:.0f} s"
            )
        if self.settle > 0:
            more = poll_until(
                lambda: Poll(len(f := captures_of(topo, self.at, mid)) > self.count, f),
                self.settle,
                interval=0.1,
                max_interval=0.25,
            )
            captures = more.value
        else:
            captures = result.value
        if len(captures) != self.count:
            raise ExpectationFailed(
                f"{self.at} captured '{self.message}' {len(captures)} times, expected {self.count}"
                + (f" (the last within {self.settle:g} s of the expected ones)" if len(captures) > self.count else "")
            )
        for capture in captures:
            problems = self.problems(topo, capture)
            if problems:
                raise ExpectationFailed(f"{self.at} captured '{self.message}', but: " + "; ".join(problems))
        first = captures[0]
        peer = topo.node_at(first["peer"]) or first["peer"]
        auth = f" auth={first['auth_user']}/{first['auth_mechanism']}" if first.get("auth_user") else ""
        if first.get("tls"):
            auth += " tls" + (f"={first['tls_mode']}" if first.get("tls_mode") else "")
            auth += f" {first['tls_version']}" if first.get("tls_version") else ""
        if self.checks_authentication:
            auth += "; " + (first.get("authentication") or {}).get("authentication_results", "")
        return f"captured at {self.at} from {peer} <{first['mail_from']}> -> {', '.join(first['rcpt_to'])}{auth}"

    def validate(self, checks: Checks) -> None:
        sink = capability(checks.nodes[self.at], CaptureSink)
        if self.checks_authentication and sink is not None and not sink.may_check_authentication(checks.nodes[self.at]):
            asked = next(k for k in ("spf", "dkim", "dmarc", "authentication_results") if getattr(self, k) is not None)
            checks.fail(
                asked,
                f"'{self.at}' checks no SPF, DKIM or DMARC ('authentication: off' in its sink settings)",
                f"remove 'authentication: off' from {self.at}, or this key",
            )
        if self.dkim_domain is not None and self.dkim is None:
            checks.fail("dkim_domain", "'dkim_domain' names the signature whose verdict 'dkim' gives", "add 'dkim:'")
        for verdict, reason in (("spf", self.spf_reason), ("dkim", self.dkim_reason), ("dmarc", self.dmarc_reason)):
            if reason is not None and getattr(self, verdict) is None:
                checks.fail(
                    f"{verdict}_reason",
                    f"'{verdict}_reason' is the reason of a {verdict.upper()} verdict that is not expected",
                    f"add '{verdict}:' (the verdict)",
                )

    @property
    def checks_authentication(self) -> bool:
        return any(v is not None for v in (self.spf, self.dkim, self.dmarc, self.authentication_results))

    def reads_authentication_at(self) -> str | None:
        return self.at if self.checks_authentication else None

    def problems(self, topo: TopologyView, capture: dict[str, Any]) -> list[str]:
        problems = []
        if self.checks_authentication:
            problems.extend(self.authentication_problems(capture))
        if self.rcpt is not None and sorted(capture["rcpt_to"]) != sorted(self.rcpt):
            problems.append(f"recipients {capture['rcpt_to']} != {list(self.rcpt)}")
        if self.mail_from is not None and capture["mail_from"] != self.mail_from:
            problems.append(f"sender <{capture['mail_from']}> != <{self.mail_from}>")
        if self.peer is not None and capture["peer"] not in topo.address_of(self.peer):
            problems.append(
                f"peer was {capture['peer']} ({topo.node_at(capture['peer']) or 'unknown'}), not {self.peer}"
            )
        if self.auth_user is not None and capture.get("auth_user") != self.auth_user:
            problems.append(f"authenticated as {capture.get('auth_user')!r}, not {self.auth_user!r}")
        if self.auth_mechanism is not None and capture.get("auth_mechanism") != self.auth_mechanism:
            problems.append(f"mechanism {capture.get('auth_mechanism')!r}, not {self.auth_mechanism!r}")
        if self.tls is not None and bool(capture.get("tls")) != self.tls:
            problems.append("the session was " + ("" if capture.get("tls") else "not ") + "encrypted")
        mode = capture_tls_mode(capture)
        if self.tls_mode is not None and mode != self.tls_mode:
            problems.append(f"TLS mode {mode}, not {self.tls_mode}")
        return problems

    def authentication_problems(self, capture: dict[str, Any]) -> list[str]:
        checked = capture.get("authentication")
        if not checked or "error" in checked:
            why = checked["error"] if checked else "the sink was not asked to (an older sink)"
            return [f"the sink has no SPF/DKIM/DMARC verdicts: {why}"]
        problems = []
        spf = checked["spf"]
        problems += _verdict_problems("SPF", spf, self.spf, self.spf_reason)
        if self.dkim is not None:
            signatures = checked["dkim"]
            if self.dkim_domain is not None:
                signatures = [d for d in signatures if d["domain"] == self.dkim_domain.lower()]
            verdict = dkim_verdict(signatures)
            if self.dkim_domain is not None and not signatures and self.dkim != "none":
                problems.append(
                    f"no DKIM signature of {self.dkim_domain} (signatures: "
                    + (", ".join(f"d={d['domain']} s={d['selector']}" for d in checked["dkim"]) or "none")
                    + ")"
                )
            else:
                problems += _verdict_problems("DKIM", verdict, self.dkim, self.dkim_reason)
        problems += _verdict_problems("DMARC", checked["dmarc"], self.dmarc, self.dmarc_reason)
        header = checked.get("authentication_results", "")
        if self.authentication_results is not None and not re.search(self.authentication_results, header):
            problems.append(f"{header!r} does not match /{self.authentication_results}/")
        if problems:
            problems.append(header)
        return problems


def dkim_verdict(signatures: list[dict[str, Any]]) -> dict[str, Any]:
    """One DKIM verdict of a message's signatures: the first that passes, else the first;
    ``none`` without a signature."""
    if not signatures:
        return {"result": "none", "reason": "no DKIM signature"}
    return next((d for d in signatures if d["result"] == "pass"), signatures[0])


def _verdict_problems(method: str, verdict: dict[str, Any], result: str | None, reason: str | None) -> list[str]:
    if result is None:
        return []
    where = f" (d={verdict['domain']})" if verdict.get("domain") and method == "DKIM" else ""
    if verdict["result"] != result:
        return [f"{method} {verdict['result']}{where}, not {result}: {verdict['reason']}"]
    if reason is not None and not re.search(reason, verdict["reason"]):
        return [f"the {method} reason {verdict['reason']!r} does not match /{reason}/"]
    return []


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectNotCaptured(StepSpec):
    action = "expect_not_captured"
    meaning = (
        "No sink (or the named one) captures the message within the time given. A stopped "
        "sink counts too: its captures are read from its container's filesystem."
    )
    expectation = True
    message: str = key("the message", "message", required=True)
    at: str | None = key("only this sink (default: every sink)", "sink_node")
    within: float = key(
        f"how long to keep watching (default {NOT_CAPTURED_WITHIN:g})", "seconds", default=NOT_CAPTURED_WITHIN
    )

    def run(self, topo: TopologyView) -> str:
        mid = message_id(topo, self.message)
        sinks = [self.at] if self.at else topo.sinks()

        def check() -> Poll[list[str]]:
            hits = [s for s in sinks if captures_of(topo, s, mid)]
            return Poll(bool(hits), hits)

        result = poll_until(check, self.within, interval=0.25, max_interval=0.5)
        if result.done:
            raise ExpectationFailed(
                f"'{self.message}' was captured at {', '.join(result.value)}, but nothing was expected"
            )
        return f"no capture at {', '.join(sinks)} in {self.within:.0f} s"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectDelivery(StepSpec):
    action = "expect_delivery"
    meaning = "An MTA's log shows a delivery attempt of the message with the given outcome."
    expectation = True
    at: str = key("the MTA", "mta", required=True)
    message: str = key("the message", "message", required=True)
    status: str = key("the outcome", required=True, choices=STATUSES)
    rcpt: str | None = key("the recipient (default: any)")
    relay: str | None = key("a pattern the relay field must match", "regex")
    dsn: str | None = key("a pattern the DSN code must match", "regex")
    reason: str | None = key("a pattern the status text must match", "regex")
    within: float = _within()

    def matches(self, d: Delivery) -> bool:
        return (
            d.status == self.status
            and (self.rcpt is None or self.rcpt in d.recipients)
            and (self.relay is None or re.search(self.relay, d.relay) is not None)
            and (self.dsn is None or re.search(self.dsn, d.dsn) is not None)
            and (self.reason is None or re.search(self.reason, d.reason) is not None)
        )

    def criteria(self) -> str:
        given = {k: getattr(self, k) for k in ("rcpt", "relay", "dsn", "reason") if getattr(self, k) is not None}
        return ", ".join(f"{k}={v!r}" for k, v in given.items()) or "(any)"

    def run(self, topo: TopologyView) -> str:
        node = topo.node(self.at)
        mid = message_id(topo, self.message)

        def check() -> Poll[list[Delivery]]:
            found = node.deliveries(mid)
            return Poll(any(self.matches(d) for d in found), found)

        result = poll_until(check, self.within)
        if not result.done:
            seen = "\n".join(f"  {d.raw}" for d in result.value) or "  (no delivery attempt of it in the log)"
            raise ExpectationFailed(
                f"no '{self.status}' delivery of '{self.message}' at {self.at} matching {self.criteria()}; seen:\n{seen}"
            )
        return next(d for d in result.value if self.matches(d)).raw


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectQueued(StepSpec):
    action = "expect_queued"
    meaning = "The message sits in an MTA's queue."
    expectation = True
    at: str = key("the MTA", "mta", required=True)
    message: str = key("the message", "message", required=True)
    reason: str | None = key("a pattern the queue's reason must match", "regex")
    absent: bool = key("expect the message NOT to be queued (checked at once)", "bool", default=False)
    within: float = _within()

    def run(self, topo: TopologyView) -> str:
        node = topo.node(self.at)
        mid = message_id(topo, self.message)
        if self.absent:
            entries = node.queued(mid)
            if entries:
                raise ExpectationFailed(
                    f"'{self.message}' is queued at {self.at}: " + "; ".join(f"{e.qid}: {e.reason}" for e in entries)
                )
            return f"'{self.message}' not queued at {self.at}"

        def check() -> Poll[list[QueueEntry]]:
            entries = node.queued(mid)
            ok = bool(entries) and (self.reason is None or any(re.search(self.reason, e.reason) for e in entries))
            return Poll(ok, entries)

        result = poll_until(check, self.within)
        if not result.done:
            raise ExpectationFailed(
                f"'{self.message}' is not queued at {self.at}"
                + (f" with a reason matching /{self.reason}/" if self.reason is not None else "")
                + f"; queue:\n{node.queue_text().strip() or '(empty)'}"
            )
        return "; ".join(f"{e.qid}: {e.reason}" for e in result.value)


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectQueueEmpty(StepSpec):
    action = "expect_queue_empty"
    meaning = "An MTA's queue is empty."
    expectation = True
    at: str = key("the MTA", "mta", required=True)
    within: float = _within()

    def run(self, topo: TopologyView) -> str:
        node = topo.node(self.at)
        result = poll_until(lambda: Poll(not (q := node.queue()), q), self.within)
        if not result.done:
            raise ExpectationFailed(
                f"the queue of {self.at} is not empty: " + ", ".join(f"{e.qid} ({e.reason})" for e in result.value)
            )
        return f"queue of {self.at} empty"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectLog(StepSpec):
    action = "expect_log"
    meaning = "A line of a node's mail log matches."
    expectation = True
    at: str = key("the node", "node", required=True)
    match: str = key("the pattern", "regex", required=True)
    message: str | None = key("only lines of this message's queue ids", "message")
    absent: bool = key("expect that no line matches (checked at once)", "bool", default=False)
    within: float = _within()

    def run(self, topo: TopologyView) -> str:
        node = topo.node(self.at)
        pattern = re.compile(self.match)

        def lines() -> list[str]:
            if self.message is None:
                return node.log_text().splitlines()
            return [line.raw for line in lines_for_message(node.log_lines(), message_id(topo, self.message))]

        if self.absent:
            hits = [line for line in lines() if pattern.search(line)]
            if hits:
                raise ExpectationFailed(f"{self.at}'s log has lines matching /{self.match}/:\n" + "\n".join(hits[:10]))
            return f"no line of {self.at}'s log matches"
        result = poll_until(lambda: Poll(bool(h := [ln for ln in lines() if pattern.search(ln)]), h), self.within)
        if not result.done:
            raise ExpectationFailed(f"no line of {self.at}'s log matches /{self.match}/ within {self.within:.0f} s")
        return result.value[0]


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectMailbox(StepSpec):
    action = "expect_mailbox"
    meaning = "A local user's mailbox on an MTA holds the message."
    expectation = True
    at: str = key("the MTA", "mta", required=True)
    user: str = key("the local user", required=True)
    message: str = key("the message", "message", required=True)
    count: int | None = key("how many copies the mailbox must hold (default: at least one)", "int")
    absent: bool = key("expect the message NOT to be in the mailbox (checked at once)", "bool", default=False)
    within: float = _within()

    def run(self, topo: TopologyView) -> str:
        node = topo.node(self.at)
        mid = message_id(topo, self.message)

        def copies() -> int:
            return node.mailbox(self.user).count(f"Message-ID: {mid}")

        if self.absent:
            if copies():
                raise ExpectationFailed(f"the mailbox of {self.user} at {self.at} holds '{self.message}'")
            return f"not in the mailbox of {self.user} at {self.at}"
        result = poll_until(lambda: Poll((n := copies()) >= (self.count or 1), n), self.within)
        if not result.done:
            raise ExpectationFailed(f"the mailbox of {self.user} at {self.at} does not hold '{self.message}'")
        if self.count is not None and result.value != self.count:
            raise ExpectationFailed(
                f"the mailbox of {self.user} at {self.at} holds {result.value} copies of '{self.message}', "
                f"expected {self.count}"
            )
        return f"{result.value} cop{'y' if result.value == 1 else 'ies'} in the mailbox of {self.user} at {self.at}"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectDns(StepSpec):
    action = "expect_dns"
    meaning = "What the topology's DNS answers for a name, asked from inside the topology."
    expectation = True
    name: str = key("the name asked for", required=True)
    rtype: str = key("the record type (default A)", name="type", default="A")
    rcode: str = key("NOERROR, NXDOMAIN, SERVFAIL or TIMEOUT (default NOERROR)", default="NOERROR")
    answer: tuple[str, ...] | None = key("the expected answer records' data (any order)", "list")

    def run(self, topo: TopologyView) -> str:
        answer = topo.dns_query(self.name, self.rtype)
        if answer["rcode"] != self.rcode:
            raise ExpectationFailed(
                f"DNS {self.rtype} {self.name}: {answer['rcode']} {answer['answer']}, expected {self.rcode}"
            )
        if self.answer is not None and sorted(answer["answer"]) != sorted(self.answer):
            raise ExpectationFailed(
                f"DNS {self.rtype} {self.name}: answer {answer['answer']}, expected {list(self.answer)}"
            )
        return f"{answer['rcode']} {sorted(answer['answer'])}"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectCommand(StepSpec):
    action = "expect_command"
    meaning = (
        "A command run inside a node (with sh -c) exits with the given code and its output "
        "matches: for what no log line shows, e.g. a setting or an installed file."
    )
    expectation = True
    at: str = key("the node", "node", required=True)
    run_: str = key("the command", required=True, name="run")
    match: str | None = key("a pattern the output must match", "regex")
    absent: bool = key("expect the pattern not to match", "bool", default=False)
    code: int = key("the expected exit code (default 0)", "int", default=0)
    within: float = key("retry until it holds for this long (default: run once)", "seconds", default=0.0)

    def run(self, topo: TopologyView) -> str:
        node = topo.node(self.at)

        def check() -> Poll[tuple[int, str]]:
            result = node.run(self.run_)
            ok = result.code == self.code
            if self.match is not None:
                ok = ok and ((re.search(self.match, result.output) is not None) != self.absent)
            return Poll(ok, (result.code, result.output))

        result = poll_until(check, self.within)
        exit_code, output = result.value
        if not result.done:
            wanted = f"exit {self.code}" + (
                f" and output {'not ' if self.absent else ''}matching /{self.match}/" if self.match is not None else ""
            )
            raise ExpectationFailed(
                f"'{self.run_}' at {self.at}: expected {wanted}, got exit {exit_code}:\n{output.strip()[-1500:]}"
            )
        return f"$ {self.run_}\n{output.strip()}"


ROUTE_FIELDS = ("mailer", "host", "user")
_RULESETS = re.compile(r"^[A-Za-z0-9_]+(,[A-Za-z0-9_]+)*$")


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class ExpectAddress(StepSpec):
    action = "expect_address"
    meaning = (
        "The MTA's own address test routes an address to the given mailer, host and user: "
        "sendmail's `sendmail -bt` (the `$#mailer $@host $:user` triple), Postfix's "
        "`sendmail -bv` (transport, relay host, recipient). Each field is a regex that must "
        "match the whole value."
    )
    expectation = True
    at: str = key("the MTA", "node", required=True)
    address: str = key("the address tested", required=True)
    rulesets: str | None = key("sendmail: the ruleset sequence, e.g. `3,0` (the default) or `3,ParseLocal`")
    mailer: str | None = key("sendmail's mailer (`$#`), Postfix's transport", "regex")
    host: str | None = key("the host the mail is handed to (`$@`; Postfix: the relay's name)", "regex")
    user: str | None = key("the recipient handed over (`$:`, tokens without spaces: `taro<@nix.co.jj>`)", "regex")

    def validate(self, checks: Checks) -> None:
        node = checks.nodes[self.at]
        tester = capability(node, AddressTester)
        if tester is None:
            checks.fail(
                "at", f"'{self.at}' is a {node.kind} node; the address test runs on {names_with(AddressTester)} nodes"
            )
        if any(c.isspace() for c in self.address) or not self.address:
            checks.fail("address", f"'{self.address}' is not one address", "write one address without spaces")
        if self.rulesets is not None:
            if not tester.takes_rulesets:
                checks.fail("rulesets", f"the address test of {node.kind} takes no rulesets", "remove 'rulesets'")
            if not _RULESETS.match(self.rulesets):
                checks.fail(
                    "rulesets",
                    f"'{self.rulesets}' is not a ruleset sequence",
                    "write numbers or names with commas: 3,0",
                )
        if all(getattr(self, f) is None for f in ROUTE_FIELDS):
            checks.fail("", "'expect_address' needs at least one of mailer, host, user", "add e.g. 'mailer: esmtp'")

    def run(self, topo: TopologyView) -> str:
        test = topo.node(self.at).address_test(self.address, self.rulesets)
        shown = f"$ {test.command}\n{test.transcript.strip()}"
        if not test.result:
            raise ExpectationFailed(f"{self.at}: the address test of {self.address} gave no result:\n{shown}")
        if test.mailer is None:
            raise ExpectationFailed(
                f"{self.at}: the address test resolved {self.address} to no mailer, only '{test.result}':\n{shown}"
            )
        problems = []
        for name in ROUTE_FIELDS:
            wanted, got = getattr(self, name), getattr(test, name)
            if wanted is not None and (got is None or re.fullmatch(wanted, got) is None):
                problems.append(
                    f"{name} {got!r} does not match /{wanted}/"
                    if got is not None
                    else f"no {name}, expected /{wanted}/"
                )
        if problems:
            raise ExpectationFailed(f"{self.at}: {self.address} -> " + "; ".join(problems) + f":\n{shown}")
        return f"{test.command}: {test.result}"


@STEPS.register
@dataclass(frozen=True, kw_only=True)
class RelayCheck(StepSpec):
    action = "relay_check"
    meaning = (
        "The open-relay battery (the 16 address forms of nmap's smtp-open-relay) from a client "
        "against a server; relayed means a message reached a sink."
    )
    expectation = True
    from_: str = key("the client or sink node the sessions start at", "smtp_source", required=True, name="from")
    server: str = key("the server under test", "node", required=True)
    domain: str = key("the remote domain the forms try to reach (its MX should be a sink)", required=True)
    server_name: str | None = key("the name used in the forms' routing parts (default the server's hostname)")
    port: int = key(f"the port (default {DEFAULT_PORT})", "int", default=DEFAULT_PORT)
    within: float = key(
        f"how long accepted messages are watched for (default {RELAY_WITHIN:g})", "seconds", default=RELAY_WITHIN
    )
    expect: str = key("the verdict (default closed)", choices=("closed", "open"), default="closed")

    def run(self, topo: TopologyView) -> str:
        report = check_relay(
            topo, self.from_, self.server, self.domain, within=self.within, port=self.port, server_name=self.server_name
        )
        if report.open != (self.expect == "open"):
            raise ExpectationFailed(f"expected the relay to be {self.expect}:\n{report.text()}")
        return report.text()
