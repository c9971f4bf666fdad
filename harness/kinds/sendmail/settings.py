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
)


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
    )
