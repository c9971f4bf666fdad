"""Postfix's address test: ``sendmail -bv`` (address verification). Postfix resolves the
address as it would a real recipient (canonical and virtual rewriting, aliases, the address
classes of mydestination / relay_domains, transport_maps, relayhost), hands a probe to the
delivery agent, which goes as far as RCPT TO at the next hop (or asks the local delivery
agent), and logs the verdict, ``status=deliverable`` or ``status=undeliverable``, with the
relay; the report itself is mailed to the sender. The delivery agent's log name gives the
transport (``postfix/smtp``: smtp; ``postfix/relay/smtp``, Debian's ``syslog_name`` for the
``relay`` service: relay), ``relay=`` the next hop, ``to=`` the recipient handed over."""

from __future__ import annotations

import re
import shlex

from harness.kinds.base import AddressTest
from harness.kinds.postfix import logs
from harness.observe.logs import RELAY, TO, LogLine

VERDICT = re.compile(r"\bstatus=(?:deliverable|undeliverable)\b")
_ORIG_TO = re.compile(r"\borig_to=<(?P<to>[^>]*)>")


def command(address: str) -> tuple[str, list[str]]:
    shown = f"sendmail -bv {shlex.quote(address)}"
    return shown, ["/usr/sbin/sendmail", "-bv", "--", address]


def verdict_of(lines: list[LogLine], address: str) -> LogLine | None:
    """The first verdict line for ``address`` (as given, or as rewritten from it)."""
    wanted = address.lower()
    for line in lines:
        if line.qid is None or not VERDICT.search(line.text):
            continue
        to, orig = TO.search(line.text), _ORIG_TO.search(line.text)
        names = {m.group("to").strip("<>").lower() for m in (to, orig) if m}
        if wanted in names:
            return line
    return None


def transport_of(program: str) -> str:
    """postfix/smtp -> smtp; postfix/relay/smtp -> relay (the service's syslog_name)."""
    parts = program.split("/")
    return parts[1] if len(parts) >= 3 else parts[-1]


def parse(shown: str, text: str, address: str) -> AddressTest:
    """``text``: the command's output, then the log lines written since it ran."""
    lines = logs.parse(text)
    logged = {ln.raw for ln in lines}
    said = [raw for raw in text.splitlines() if raw.strip() and raw not in logged]
    line = verdict_of(lines, address)
    related = [ln.raw for ln in lines if line is None or ln.qid == line.qid]
    transcript = "\n".join([*said, *related])
    if line is None:
        return AddressTest(shown, transcript, "")
    to, relay = TO.search(line.text), RELAY.search(line.text)
    host = relay.group("relay").strip().split("[", 1)[0] if relay else None
    user = to.group("to").strip("<>") if to else None
    return AddressTest(shown, transcript, line.raw, transport_of(line.program), host, user)
