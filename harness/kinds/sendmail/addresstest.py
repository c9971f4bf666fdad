"""sendmail's address test mode, ``sendmail -bt``: a ruleset sequence and an address in, the
rulesets' trace out; the last ``returns:`` line is the result, a ``$#mailer $@host $:user``
triple when the sequence ends in ruleset 0 (parse)."""

from __future__ import annotations

import re
import shlex

from harness.kinds.base import AddressTest

DEFAULT_RULESETS = "3,0"
# "parse            returns: $# esmtp $@ mstore . nix . co . jj $: taro < @ nix . co . jj >"
_RETURNS = re.compile(r"^\S+\s+returns: (?P<result>.*)$")
_HEADER = ("ADDRESS TEST MODE", "Enter <ruleset> <address>")
_TRIPLE = re.compile(r"^\$#(?P<mailer>.*?)(?:\$@(?P<host>.*?))?(?:\$:(?P<user>.*))?$")


def command(address: str, rulesets: str) -> tuple[str, list[str]]:
    """The command as shown to a user, and the one run inside the node."""
    line = f"{rulesets} {address}"
    shown = f"echo {shlex.quote(line)} | sendmail -bt"
    return shown, ["sh", "-c", f"echo {shlex.quote(line)} | /usr/sbin/sendmail -bt 2>&1"]


def joined(tokens: str) -> str:
    """sendmail's trace prints one space between tokens: the text without them (spaces
    inside a quoted string stay)."""
    out, quoted = [], False
    for char in tokens:
        if char == '"':
            quoted = not quoted
        if char == " " and not quoted:
            continue
        out.append(char)
    return "".join(out)


def result_of(transcript: str) -> str:
    """The last ruleset's ``returns:``, or a complaint printed after it ("Undefined ruleset
    NoSuch", "... Unbalanced '<'"): what the test came to."""
    result = ""
    for raw in transcript.splitlines():
        line = raw.removeprefix(">").strip()
        if not line or line.startswith(_HEADER):
            continue
        returned = _RETURNS.match(line)
        if returned:
            result = returned.group("result").strip()
        elif " input: " not in line:
            result = line
    return result


def parse(shown: str, transcript: str) -> AddressTest:
    result = result_of(transcript)
    triple = _TRIPLE.match(joined(result)) if result.startswith("$#") else None
    if triple is None:
        return AddressTest(shown, transcript, result)
    return AddressTest(shown, transcript, result, triple.group("mailer"), triple.group("host"), triple.group("user"))
