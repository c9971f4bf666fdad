"""The ``dkim:`` key of a node whose kind signs mail with OpenDKIM."""

from __future__ import annotations

import re

from harness.scenario.model import DKIM_BITS, DKIM_CANONICALIZATIONS, DkimSigning
from harness.scenario.reader import Reader, suggest
from harness.scenario.source import PathT

KEYS = ("domain", "selector", "sign", "bits", "canonicalization")
# A selector is one DNS label (RFC 6376 3.1 allows dots; one label keeps the key's name plain).
LABEL_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def is_domain(name: str) -> bool:
    labels = name.split(".")
    return len(labels) >= 2 and all(LABEL_RE.match(label) for label in labels)


def _domain(r: Reader, path: PathT) -> str:
    name = r.string(path, "a DKIM domain").lower().rstrip(".")
    if not is_domain(name):
        r.fail(path, f"'{name}' is not a domain name", "write the mail domain the key signs for, e.g. office.test")
    return name


def parse(r: Reader, path: PathT) -> DkimSigning:
    raw = r.mapping(path, KEYS, "dkim")
    domain = r.required(path, raw, "domain", "dkim", lambda p: _domain(r, p))
    selector = r.required(path, raw, "selector", "dkim", lambda p: r.string(p, "a DKIM selector"))
    if not LABEL_RE.match(selector):
        r.fail(
            (*path, "selector"),
            f"selector '{selector}' is not a DNS label",
            "use letters, digits and '-' (e.g. s1 or mail2026): the key is published as SELECTOR._domainkey.DOMAIN",
        )
    sign: tuple[str, ...] = ()
    if r.has((*path, "sign")):
        items = r.strings((*path, "sign"), "sign")
        if not items:
            r.fail((*path, "sign"), "no domain to sign", "list the From: domains to sign, or leave 'sign' out")
        sign = tuple(_domain(r, (*path, "sign", i)) for i in range(len(items)))
        for i, name in enumerate(sign):
            if name in sign[:i]:
                r.fail((*path, "sign", i), f"domain '{name}' is listed twice")
    bits = r.optional(raw, path, "bits", lambda p: r.integer(p, "bits"), 2048)
    if bits not in DKIM_BITS:
        r.fail((*path, "bits"), f"{bits} bits is not a key size the harness makes", "use 1024 or 2048")
    canon = r.optional(
        raw, path, "canonicalization", lambda p: r.string(p, "canonicalization"), DKIM_CANONICALIZATIONS[0]
    )
    if canon not in DKIM_CANONICALIZATIONS:
        fix = (
            suggest(canon, DKIM_CANONICALIZATIONS)
            if "/" in canon
            else "give header/body: " + ", ".join(DKIM_CANONICALIZATIONS) + " (the first is Debian's default)"
        )
        r.fail((*path, "canonicalization"), f"unknown canonicalization '{canon}'", fix)
    return DkimSigning(domain=domain, selector=selector, sign=sign, bits=bits, canonicalization=canon)
