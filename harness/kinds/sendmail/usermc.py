"""A user's own sendmail.mc (the ``files:`` node key) and how it combines with what the
topology needs.

The user's ``/etc/mail/sendmail.mc`` replaces the .mc the harness renders: it is placed as
it is (and read once with ``m4`` before anything else, so that m4's complaints carry its own
line numbers), and ``harness.mc``, the file built into sendmail.cf, is that .mc with

- the user's ``DAEMON_OPTIONS`` lines taken out: the harness's one listener (every address,
  port 25: ``sendmail.listen``) is what the topology connects to;
- the harness's lines inserted before the first ``MAILER(`` line: its defines
  (``params.py``: log level 9, connect timeouts; a later ``define`` wins in m4), the
  scenario's ``sendmail.defines``, ``FEATURE(`no_default_msa')``, ``FEATURE(`use_cw_file')``,
  its ``DAEMON_OPTIONS``, the scenario's features and ``.mc`` lines;
- the scenario's rules after it, as without a user's .mc.

Each of the user's defines set to another value and each DAEMON_OPTIONS line taken out is
listed as overridden.
"""

from __future__ import annotations

import re

USER_MC = "/etc/mail/sendmail.mc"
# Tables a user's .mc may use (cf/README: FEATURE access_db, mailertable, virtusertable,
# genericstable, domaintable; authinfo): compiled with makemap when the user gives one.
USER_MAPS = ("access", "mailertable", "virtusertable", "genericstable", "domaintable", "authinfo")
_DEFINE = re.compile(r"^\s*define\(\s*`(\w+)'\s*,\s*(.*?)\s*\)\s*(?:dnl\b.*)?$")
_DAEMON = re.compile(r"^\s*DAEMON_OPTIONS\(")
_MAILER = re.compile(r"^\s*MAILER\(")


def defines(text: str) -> dict[str, tuple[str, int]]:
    """The user's ``define(`name', `value')`` lines: name -> (value as written, line)."""
    result = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _DEFINE.match(line)
        if match:
            value = match.group(2)
            if value.startswith("`") and value.endswith("'"):
                value = value[1:-1]
            result[match.group(1)] = (value, number)
    return result


def combine(
    text: str, source: str, harness: list[str], final: dict[str, tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """harness.mc from the user's .mc and the harness's lines, and what was overridden.

    ``final`` is each define the harness's lines set: name -> (value, who set it)."""
    lines: list[str] = []
    notes: list[str] = []
    inserted = False
    daemon = " ".join(h.strip().removesuffix("dnl") for h in harness if _DAEMON.match(h))
    for number, line in enumerate(text.splitlines(), 1):
        if _DAEMON.match(line):
            mine = line.strip().removesuffix("dnl")
            notes.append(f"{USER_MC} ({source}:{number}): {mine} overridden by the harness: {daemon}")
            lines.append(f"dnl mta-harness took out: {line}")
            continue
        if _MAILER.match(line) and not inserted:
            lines += [f"dnl --- mta-harness: its lines, before the first MAILER (from {source})", *harness]
            lines.append("dnl --- the user's .mc again")
            inserted = True
        lines.append(line)
    if not inserted:
        lines += ["dnl --- mta-harness: its lines (the user's .mc has no MAILER line)", *harness]
    for name, (value, number) in defines(text).items():
        if name in final and final[name][0] != value:
            new, by = final[name]
            notes.append(f"{USER_MC} ({source}:{number}): {name} = {value} overridden by {by}: {new or '(undefined)'}")
    return lines, notes
