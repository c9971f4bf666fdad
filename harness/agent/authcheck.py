"""The receiving side's mail authentication: SPF, DKIM and DMARC verdicts for one message.

Runs inside the sink container, called by ``sink.py`` for every message it accepts, and on
the host in unit tests. Self-contained: it imports nothing from the harness.

The libraries are the ones receivers use, as Debian ships them (python3-spf, python3-dkim,
python3-authheaders, python3-authres):

- SPF (RFC 7208): pyspf, the reference implementation (postfix-policyd-spf-python is built
  on it): the client address, the HELO name and MAIL FROM, with its Received-SPF text;
- DKIM (RFC 6376): dkimpy, every signature verified on its own, with the reason of a
  failure (``body hash mismatch``, a missing key, a DNS error);
- DMARC (RFC 7489): the policy record (parsed by authheaders) of the From domain or its
  organizational domain, and identifier alignment of the SPF domain and of each passing
  DKIM signature's d=, done here: authheaders' own alignment takes every ``.test`` name
  for the organizational domain ``test`` and an SPF domain only up to its first hyphen;
  the organizational domain comes from python3-publicsuffix2's list with the default rule;
- the Authentication-Results header (RFC 8601) the sink would add: authres.

DNS is the node's resolver (the topology's BIND). A temporary DNS failure (SERVFAIL, no
answer in time) is ``temperror`` for each of the three, as their RFCs say: dkimpy and
authheaders would take a SERVFAIL for a missing record, so their DNS function here tells
the two apart.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import logging
from collections.abc import Callable
from typing import Any

import authres
import authres.dmarc
import dkim
import dns.exception
import dns.resolver
import spf
from authheaders.dmarc_lookup import lookup_receiver_record
from publicsuffix2 import PublicSuffixList

DNS_TIMEOUT = 5.0  # seconds per DNS question (the SPF check as a whole: SPF_TIMEOUT)
SPF_TIMEOUT = 10.0
_PSL = PublicSuffixList()  # the list python3-publicsuffix2 ships (no download)


class TempDnsError(Exception):
    """The DNS did not answer, or answered SERVFAIL: a temporary failure."""


def use_nameservers(nameservers: list[str], port: int = 53) -> None:
    """Ask only these DNS servers (the topology's BIND), never the system's configuration:
    pyspf, dkimpy and authheaders all use dnspython's default resolver."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = list(nameservers)
    resolver.port = port
    resolver.timeout = resolver.lifetime = DNS_TIMEOUT
    dns.resolver.default_resolver = resolver


TxtLookup = Callable[[str], "list[bytes] | None"]


def resolver_txt(name: str) -> list[bytes] | None:
    """TXT records of ``name``, each as its strings joined; None: the name has none."""
    try:
        answer = dns.resolver.resolve(name, "TXT", lifetime=DNS_TIMEOUT, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except (dns.resolver.NoNameservers, dns.exception.Timeout, dns.resolver.NoResolverConfiguration) as exc:
        raise TempDnsError(f"{name}: {exc}") from exc
    return [b"".join(rdata.strings) for rdata in answer]


class _Log(logging.Handler):
    """What dkimpy says while it verifies: the reason of a failure."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage())


def check_spf(ip: str, helo: str, mail_from: str, receiver: str) -> dict[str, Any]:
    identity = mail_from or f"postmaster@{helo}"  # a null sender: the HELO identity (RFC 7208 2.3)
    query = spf.query(i=ip, s=mail_from, h=helo, receiver=receiver, timeout=SPF_TIMEOUT, querytime=DNS_TIMEOUT)
    result, _code, explanation = query.check()
    result = str(result).lower()
    comment = query.get_header_comment(result)
    return {
        "result": result,
        "reason": f"{comment} ({explanation})" if explanation else comment,
        "identity": "mailfrom" if mail_from else "helo",
        "domain": identity.rpartition("@")[2].lower(),
        "received_spf": query.get_header(result, receiver),
    }


class _KeyLookup:
    """dkimpy's DNS function for one signature: a temporary failure is raised as dkimpy's
    DnsTimeoutError and remembered (dkimpy only logs it), a missing key is None."""

    def __init__(self, txt: TxtLookup) -> None:
        self.txt = txt
        self.errors: list[str] = []

    def lookup(self, name: bytes, timeout: float = DNS_TIMEOUT) -> bytes | None:
        try:
            records = self.txt(name.decode("ascii", "replace"))
        except TempDnsError as exc:
            self.errors.append(str(exc))
            raise dkim.DnsTimeoutError(str(exc)) from exc
        return records[0] if records else None


def check_dkim(raw: bytes, txt: TxtLookup) -> list[dict[str, Any]]:
    """One verdict per DKIM-Signature, in the order of the header fields."""
    log = _Log()
    # A logger of this call's own, outside logging's registry: one registered per message
    # would stay there for good, and every setLevel walks all of them.
    logger = logging.Logger("authcheck.dkim", logging.DEBUG)
    logger.propagate = False
    logger.addHandler(log)
    verifier = dkim.DKIM(raw, logger=logger)
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    verdicts = []
    for idx in range(count):
        log.errors.clear()
        keys = _KeyLookup(txt)
        dns_errors = keys.errors
        dnsfunc = keys.lookup
        result, reason = "fail", ""
        try:
            ok = verifier.verify(idx=idx, dnsfunc=dnsfunc)
            if ok:
                result, reason = "pass", "signature verified"
            elif dns_errors:
                result, reason = "temperror", "key query failed: " + dns_errors[0]
            elif any("public key" in e or "KeyFormatError" in e for e in log.errors):
                result, reason = "permerror", "; ".join(log.errors)
            else:
                result, reason = "fail", "; ".join(log.errors) or "signature did not verify"
        except dkim.ValidationError as exc:
            text = str(exc)
            result, reason = ("fail", text) if "body hash mismatch" in text else ("permerror", text)
        except dkim.DKIMException as exc:
            result, reason = "permerror", str(exc)
        fields = verifier.signature_fields or {}
        verdicts.append(
            {
                "result": result,
                "reason": reason,
                "domain": fields.get(b"d", b"").decode("ascii", "replace").lower(),
                "selector": fields.get(b"s", b"").decode("ascii", "replace"),
                "identity": fields.get(b"i", b"").decode("ascii", "replace"),
            }
        )
    return verdicts


def from_domain(raw: bytes) -> str:
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    _, address = email.utils.parseaddr(str(headers.get("From", "")))
    return address.rpartition("@")[2].lower()


def check_dmarc(
    raw: bytes, spf_verdict: dict[str, Any], dkim_verdicts: list[dict[str, Any]], txt: TxtLookup
) -> dict[str, Any]:
    domain = from_domain(raw)
    if not domain:
        return {"result": "none", "reason": "no From domain", "from_domain": "", "policy": ""}
    dns_errors: list[str] = []

    def dnsfunc(name: str) -> str | None:
        try:
            records = txt(name)
        except TempDnsError as exc:
            dns_errors.append(str(exc))
            return None
        for record in records or []:
            if record.startswith(b"v=DMARC1"):
                return record.decode("utf-8", "replace")
        return None

    record, used = _dmarc_record(domain, dnsfunc)
    if dns_errors:
        return {
            "result": "temperror",
            "reason": "policy query failed: " + dns_errors[0],
            "from_domain": domain,
            "policy": "",
        }
    if not record or not record.get("p"):
        return {"result": "none", "reason": f"no DMARC record for {domain}", "from_domain": domain, "policy": ""}
    comment = f"record of {used}"
    policy = record["p"] if used == domain else record.get("sp", record["p"])
    aligned = []
    if spf_verdict["result"] == "pass" and _aligned(domain, spf_verdict["domain"], record.get("aspf", "r")):
        aligned.append(f"spf ({spf_verdict['domain']})")
    for verdict in dkim_verdicts:
        if verdict["result"] == "pass" and _aligned(domain, verdict["domain"], record.get("adkim", "r")):
            aligned.append(f"dkim ({verdict['domain']})")
            break
    result = "pass" if aligned else "fail"
    reason = f"{comment}; aligned: {', '.join(aligned)}" if aligned else f"{comment}; no aligned SPF or DKIM pass"
    return {"result": result, "reason": reason, "from_domain": domain, "policy": policy}


def org_domain(domain: str) -> str:
    """The organizational domain (RFC 7489 3.2): one label more than the public suffix. A
    name under a suffix the list does not know (``.test``) takes the list's default rule,
    ``*``: its last label is the suffix."""
    return str(_PSL.get_sld(domain, strict=True) or ".".join(domain.split(".")[-2:]))


def _dmarc_record(domain: str, dnsfunc: Callable[[str], str | None]) -> tuple[dict[str, str], str]:
    """Policy discovery (RFC 7489 6.6.3): the From domain's record, else its organizational
    domain's; authheaders parses the record."""
    record = lookup_receiver_record(domain, dnsfunc)
    if record:
        return record, domain
    org = org_domain(domain)
    if org != domain:
        return lookup_receiver_record(org, dnsfunc), org
    return {}, domain


def _aligned(from_dom: str, other: str, mode: str) -> bool:
    """Identifier alignment (RFC 7489 3.1): the same domain (strict), or the same
    organizational domain (relaxed)."""
    if not other:
        return False
    if mode == "s":
        return from_dom == other
    return org_domain(from_dom) == org_domain(other)


def evaluate(
    raw: bytes, ip: str, helo: str, mail_from: str, authserv_id: str, txt: TxtLookup = resolver_txt
) -> dict[str, Any]:
    """SPF, DKIM and DMARC for a message as received, and the Authentication-Results text."""
    spf_verdict = check_spf(ip, helo, mail_from, authserv_id)
    dkim_verdicts = check_dkim(raw, txt)
    dmarc_verdict = check_dmarc(raw, spf_verdict, dkim_verdicts, txt)
    results: list[Any] = [
        authres.SPFAuthenticationResult(
            result=spf_verdict["result"],
            smtp_mailfrom=spf_verdict["domain"] if spf_verdict["identity"] == "mailfrom" else None,
            smtp_helo=helo if spf_verdict["identity"] == "helo" else None,
        )
    ]
    if dkim_verdicts:
        results.extend(
            authres.DKIMAuthenticationResult(
                result=d["result"],
                reason=d["reason"] if d["result"] != "pass" else None,
                header_d=d["domain"],
                header_s=d["selector"] or None,
            )
            for d in dkim_verdicts
        )
    else:
        results.append(authres.DKIMAuthenticationResult(result="none"))
    results.append(
        authres.dmarc.DMARCAuthenticationResult(
            result=dmarc_verdict["result"],
            header_from=dmarc_verdict["from_domain"] or None,
            policy=dmarc_verdict["policy"] or None,
        )
    )
    header = str(authres.AuthenticationResultsHeader(authserv_id=authserv_id, results=results))
    return {
        "spf": spf_verdict,
        "dkim": dkim_verdicts,
        "dmarc": dmarc_verdict,
        "authentication_results": header,
    }
