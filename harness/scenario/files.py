"""A node's ``files:`` key: the user's own files, placed whole into the node.

Each entry maps a path in the node (absolute, under ``/etc/``) to a file beside the scenario
(relative to the scenario file), e.g. ``/etc/postfix/main.cf: files/prod-main.cf``. The
source is read at load time, so a missing, unreadable or binary file fails before any
container exists; the node's kind decides how the file combines with what the topology needs
(``harness/kinds/<kind>/``), and what an MTA says of a line of it is mapped back to the
user's file and line by :func:`point_at_sources`.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from harness.scenario.model import UserFile
from harness.scenario.reader import Reader
from harness.scenario.source import PathT

TARGET_ROOT = "/etc/"
# The harness's own files in every node: a user file there would be overwritten.
RESERVED = ("/etc/harness/",)
# Files the topology owns in every node, and what to write instead.
TOPOLOGY_FILES = {
    "/etc/resolv.conf": "every node resolves through the topology's DNS server: declare zones under dns:",
    "/etc/hosts": "use the node key hosts: (its entries follow Docker's own)",
}
MAX_BYTES = 1_000_000
EXAMPLE = "write e.g. '/etc/postfix/main.cf: files/prod-main.cf'"


def read_files(r: Reader, path: PathT, base: Path) -> tuple[UserFile, ...]:
    raw = r.keys(path, "files")
    result = []
    for target, _ in raw.items():
        p = (*path, target)
        check_target(r, p, str(target))
        source = r.string(p, f"the source of {target}")
        result.append(UserFile(str(target), source, read_source_text(r, p, base, source)))
    return tuple(result)


def check_target(r: Reader, path: PathT, target: str) -> None:
    if not target.startswith("/"):
        r.fail(path, f"'{target}' is not an absolute path in the node", EXAMPLE)
    if ".." in PurePosixPath(target).parts:
        r.fail(path, f"'{target}' has a '..' in it", "write the path in the node as it is, e.g. /etc/postfix/main.cf")
    if not target.startswith(TARGET_ROOT) or target.endswith("/") or str(PurePosixPath(target)) != target:
        r.fail(
            path,
            f"'{target}' is not a file path under {TARGET_ROOT}",
            "the user's files are configuration: place them under /etc/ (e.g. /etc/postfix/header_checks)",
        )
    if target in TOPOLOGY_FILES:
        r.fail(path, f"{target} is the topology's", TOPOLOGY_FILES[target])
    for reserved in RESERVED:
        if target.startswith(reserved):
            r.fail(path, f"'{target}' is under {reserved}, which the harness writes itself", "choose another path")


def read_source_text(r: Reader, path: PathT, base: Path, source: str) -> str:
    """The text of a source file, relative to the scenario file's folder."""
    if not source:
        r.fail(path, "no source file given", "write the file's path relative to the scenario file")
    file = base / source
    if not file.is_file():
        what = "is a folder" if file.is_dir() else "does not exist"
        r.fail(
            path, f"the source file '{source}' {what} (looked for {file})", "the path is relative to the scenario file"
        )
    try:
        data = file.read_bytes()
    except OSError as exc:
        r.fail(path, f"cannot read the source file '{source}': {exc.strerror}", "make it readable")
    if len(data) > MAX_BYTES:
        r.fail(
            path,
            f"the source file '{source}' has {len(data)} bytes",
            f"a configuration file of under {MAX_BYTES} bytes",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        r.fail(path, f"the source file '{source}' is not UTF-8 text (byte {exc.start})", "give a text file")
    if "\0" in text:
        r.fail(path, f"the source file '{source}' is not text (it holds NUL bytes)", "give a text file")
    return text


def point_at_sources(files: tuple[UserFile, ...], output: str) -> list[tuple[str, str]]:
    """The lines of an MTA's output that name a line of a user's file (``/etc/postfix/main.cf,
    line 3``, ``regexp map /etc/postfix/header_checks, line 2``, ``/etc/mail/sendmail.mc:12``),
    each with that line of the user's source (``files/prod-main.cf:3: <the line>``).

    A file is placed verbatim, so line N in the node is line N of the source (for lines
    before any the harness edits in place)."""
    found = []
    for line in output.splitlines():
        for f in files:
            match = re.search(re.escape(f.target) + r"(?:, line |: line |:)(\d+)", line)
            if match:
                number = int(match.group(1))
                found.append((line.strip(), f"{f.source}:{number}: {f.source_line(number)}"))
                break
    return found
