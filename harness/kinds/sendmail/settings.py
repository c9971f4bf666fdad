"""sendmail node settings: the ``sendmail:`` key of a node."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.scenario.model import KindSettings
from harness.scenario.reader import Reader
from harness.scenario.source import PathT

KEYS = (
    "defines",
    "features",
    "mc",
    "cf",
    "access",
    "mailertable",
    "aliases",
    "local_host_names",
    "relay_domains",
    "queue_interval",
    "listen",
    "local_rules",
    "local_rulesets",
)
# The .mc's LOCAL_RULE_n macros (cf/m4/cfhead.m4) and the ruleset each adds to.
LOCAL_RULES = {
    "0": "ParseLocal (98), called by ruleset 0 before its own rules",
    "1": "1 (sender rewriting)",
    "2": "2 (recipient rewriting)",
    "3": "Canonify (3), after the address is focused",
}
# Between a rule's left-hand side, its right-hand side and its comment sendmail needs a TAB;
# a scenario may write a tab or a run of two or more spaces. Single spaces belong to a side.
_SEPARATOR = re.compile(r"[ ]*\t[ \t]*| {2,}")
_RULESET = re.compile(r"^S([A-Za-z_][A-Za-z0-9_]*(=\d+)?|\d+)$")


@dataclass(frozen=True)
class SendmailSettings(KindSettings):
    defines: tuple[tuple[str, str], ...] = ()
    features: tuple[str, ...] = ()  # argument lists as written, e.g. "`access_db', `hash -T<TMPF> /etc/mail/access'"
    mc: tuple[str, ...] = ()  # extra raw .mc lines, before the MAILER lines
    cf: tuple[str, ...] = ()  # raw sendmail.cf lines that replace the generated line of the same key
    access: tuple[tuple[str, str], ...] = ()
    mailertable: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    local_host_names: tuple[str, ...] = ()
    relay_domains: tuple[str, ...] = ()
    queue_interval: str = "10s"
    listen: str = "0.0.0.0"
    # LOCAL_RULE_n: (n, rule lines), each line rendered as sendmail.cf wants it (TABs)
    local_rules: tuple[tuple[str, tuple[str, ...]], ...] = ()
    local_rulesets: tuple[str, ...] = ()  # LOCAL_RULESETS: S lines and the R lines under them


def parse(r: Reader, path: PathT) -> SendmailSettings:
    raw = r.mapping(path, KEYS, "sendmail settings")
    cf = r.optional(raw, path, "cf", lambda p: r.strings(p, "sendmail.cf"), ())
    for i, line in enumerate(cf):
        if not re.match(r"^(D\S|O \S+=|C\S|F\S)", line):
            r.fail(
                (*path, "cf", i),
                f"'{line}' is not a sendmail.cf macro, class or option line",
                "write e.g. 'DS[10.11.12.13]' or 'O FallbackSmartHost=fallback.example.test'",
            )
    interval = r.optional(raw, path, "queue_interval", lambda p: r.string(p, "queue_interval"), "10s")
    if not re.match(r"^\d+[smh]$", interval):
        r.fail((*path, "queue_interval"), f"'{interval}' is not a sendmail interval", "write e.g. 10s or 5m")
    return SendmailSettings(
        defines=r.optional(raw, path, "defines", lambda p: r.pairs(p, "sendmail.defines"), ()),
        features=r.optional(raw, path, "features", lambda p: r.strings(p, "sendmail.features"), ()),
        mc=r.optional(raw, path, "mc", lambda p: r.strings(p, "sendmail.mc"), ()),
        cf=cf,
        access=r.optional(raw, path, "access", lambda p: r.pairs(p, "sendmail.access"), ()),
        mailertable=r.optional(raw, path, "mailertable", lambda p: r.pairs(p, "sendmail.mailertable"), ()),
        aliases=r.optional(raw, path, "aliases", lambda p: r.pairs(p, "sendmail.aliases"), ()),
        local_host_names=r.optional(raw, path, "local_host_names", lambda p: r.strings(p, "local_host_names"), ()),
        relay_domains=r.optional(raw, path, "relay_domains", lambda p: r.strings(p, "relay_domains"), ()),
        queue_interval=interval,
        listen=r.optional(raw, path, "listen", lambda p: r.string(p, "listen"), "0.0.0.0"),
        local_rules=r.optional(raw, path, "local_rules", lambda p: _local_rules(r, p), ()),
        local_rulesets=r.optional(raw, path, "local_rulesets", lambda p: _local_rulesets(r, p), ()),
    )


def rule_line(r: Reader, path: PathT, line: str) -> str:
    """An R line as sendmail.cf wants it: ``R<lhs>TAB<rhs>[TAB<comment>]``."""
    if "`" in line or "'" in line:
        r.fail(
            path,
            f"'{line}' holds an m4 quote character (` or ')",
            "leave it out: each rule is quoted for m4 in the .mc",
        )
    if not line.startswith("R"):
        r.fail(path, f"'{line}' is not a rewriting rule (R line)", "write e.g. 'R$* < @ $D >  $#esmtp $@ mstore $: $1'")
    parts = _SEPARATOR.split(line[1:].rstrip(), maxsplit=2)
    if not parts[0]:
        r.fail(path, f"the rule '{line}' has no left-hand side", "write the pattern right after the R")
    if len(parts) < 2 or not parts[1]:
        r.fail(
            path,
            f"the rule '{line}' has no right-hand side",
            "separate pattern, replacement and comment with a tab or two or more spaces",
        )
    return "R" + "\t".join(parts)


def _local_rules(r: Reader, path: PathT) -> tuple[tuple[str, tuple[str, ...]], ...]:
    result = []
    for number in r.keys(path, "local_rules"):
        p = (*path, number)
        if number not in LOCAL_RULES:
            r.fail(
                p,
                f"the .mc has no LOCAL_RULE_{number}",
                "use 0, 1, 2 or 3 for LOCAL_RULE_0 to LOCAL_RULE_3; a named ruleset goes under local_rulesets",
            )
        lines = r.strings(p, f"local_rules.{number}")
        if not lines:
            r.fail(p, f"local_rules.{number} is empty", "list at least one R line, or remove the key")
        for i, line in enumerate(lines):
            if line.startswith("S"):
                r.fail(
                    (*p, i),
                    f"'{line}' starts a ruleset; LOCAL_RULE_{number} takes R lines only",
                    "put it under local_rulesets",
                )
        result.append((number, tuple(rule_line(r, (*p, i), line) for i, line in enumerate(lines))))
    return tuple(result)


def _local_rulesets(r: Reader, path: PathT) -> tuple[str, ...]:
    lines = r.strings(path, "local_rulesets")
    result = []
    for i, line in enumerate(lines):
        if line.startswith("S"):
            if not _RULESET.match(line.strip()):
                r.fail(
                    (*path, i),
                    f"'{line}' is not a ruleset line",
                    "write S and a name (SLocal_check_rcpt), a number (S90) or both (SMyRules=90)",
                )
            result.append(line.strip())
            continue
        if not result:
            r.fail(
                (*path, i), f"'{line}' comes before any ruleset", "start local_rulesets with an S line (e.g. SMyRules)"
            )
        result.append(rule_line(r, (*path, i), line))
    return tuple(result)
