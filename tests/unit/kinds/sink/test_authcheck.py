"""The sink's SPF, DKIM and DMARC verdicts (``harness/agent/authcheck.py``), against a DNS
server on loopback (``fakedns``) through the same resolver path the sink uses in a topology.

Messages are signed here with dkimpy and a key made for these tests only
(``data/dkim-test-only.key``, its public half ``.pub``), published in the fake zone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dkim
import dns.resolver
import pytest
from fakedns import DROP, SERVFAIL, Zone, serving

from harness.agent import authcheck

KEY = (Path(__file__).parent / "data" / "dkim-test-only.key").read_bytes()
RELAY_IP = "10.250.0.30"
FALLBACK_IP = "10.250.0.31"
MESSAGE = (
    b"From: Alice <alice@office.test>\r\nTo: bob@remote.test\r\nSubject: report\r\n"
    b"Message-ID: <auth-1@office.test>\r\n\r\nThe figures.\r\n"
)


def public_key() -> str:
    """The p= of the test key: its DER SubjectPublicKeyInfo in base64, as opendkim-genkey writes it."""
    return (Path(__file__).parent / "data" / "dkim-test-only.pub").read_text().strip()


@pytest.fixture(scope="module")
def zone() -> Zone:
    return {
        ("office.test", "TXT"): [f"v=spf1 ip4:{RELAY_IP} -all"],
        ("soft.test", "TXT"): [f"v=spf1 ip4:{RELAY_IP} ~all"],
        ("broken.test", "TXT"): SERVFAIL,
        ("s1._domainkey.office.test", "TXT"): [f"v=DKIM1; k=rsa; p={public_key()}"],
        ("s1._domainkey.relay.test", "TXT"): [f"v=DKIM1; k=rsa; p={public_key()}"],
        ("gone._domainkey.office.test", "TXT"): SERVFAIL,
        ("slow._domainkey.office.test", "TXT"): DROP,
        ("_dmarc.office.test", "TXT"): ["v=DMARC1; p=reject"],
        ("_dmarc.broken.test", "TXT"): SERVFAIL,
        ("provider.test", "TXT"): [f"v=spf1 ip4:{RELAY_IP} -all"],
    }


@pytest.fixture(autouse=True)
def dns_server(zone: Zone, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(authcheck, "DNS_TIMEOUT", 0.5)
    monkeypatch.setattr(authcheck, "SPF_TIMEOUT", 1.0)
    saved = dns.resolver.default_resolver
    with serving(zone) as port:
        authcheck.use_nameservers(["127.0.0.1"], port)
        yield
    dns.resolver.default_resolver = saved


def sign(message: bytes, domain: str = "office.test", selector: str = "s1") -> bytes:
    signature = dkim.sign(message, selector.encode(), domain.encode(), KEY, include_headers=[b"from", b"subject"])
    return signature + message


def evaluate(raw: bytes = MESSAGE, ip: str = RELAY_IP, mail_from: str = "alice@office.test") -> dict[str, Any]:
    return authcheck.evaluate(raw, ip, "relay.office.test", mail_from, "mx.remote.test")


# ---- SPF -------------------------------------------------------------------------------------


def test_spf_none_without_a_record() -> None:
    verdicts = evaluate(mail_from="carol@norecord.test")
    assert verdicts["spf"]["result"] == "none"
    assert verdicts["spf"]["domain"] == "norecord.test"
    assert re.search(r"neither permitted nor denied by domain of norecord\.test", verdicts["spf"]["reason"])
    assert verdicts["spf"]["received_spf"].startswith("None (mx.remote.test: ")
    assert "spf=none smtp.mailfrom=norecord.test" in verdicts["authentication_results"]


def test_spf_pass_when_the_record_lists_the_client() -> None:
    verdicts = evaluate()
    assert verdicts["spf"]["result"] == "pass"
    assert "designates 10.250.0.30 as permitted sender" in verdicts["spf"]["reason"]
    assert "spf=pass smtp.mailfrom=office.test" in verdicts["authentication_results"]


def test_spf_fail_and_softfail_for_a_host_not_listed() -> None:
    assert evaluate(ip=FALLBACK_IP)["spf"]["result"] == "fail"
    soft = evaluate(ip=FALLBACK_IP, mail_from="alice@soft.test")["spf"]
    assert soft["result"] == "softfail"
    assert "does not designate 10.250.0.31 as permitted sender" in soft["reason"]


def test_spf_temperror_when_dns_answers_servfail() -> None:
    verdict = evaluate(mail_from="alice@broken.test")["spf"]
    assert verdict["result"] == "temperror"
    assert "temporary error" in verdict["reason"]


def test_spf_of_a_null_sender_is_the_helo_identity() -> None:
    verdicts = evaluate(mail_from="")
    assert verdicts["spf"]["identity"] == "helo"
    assert verdicts["spf"]["domain"] == "relay.office.test"
    assert "smtp.helo=relay.office.test" in verdicts["authentication_results"]


# ---- DKIM ------------------------------------------------------------------------------------


def test_dkim_none_without_a_signature() -> None:
    verdicts = evaluate()
    assert verdicts["dkim"] == []
    assert "dkim=none" in verdicts["authentication_results"]


def test_dkim_pass() -> None:
    [verdict] = evaluate(sign(MESSAGE))["dkim"]
    assert verdict == {
        "result": "pass",
        "reason": "signature verified",
        "domain": "office.test",
        "selector": "s1",
        "identity": "@office.test",
    }


def test_dkim_fail_when_the_body_changed_on_the_way() -> None:
    raw = sign(MESSAGE).replace(b"The figures.", b"The figures.\r\n-- \r\nSent through the relay")
    [verdict] = evaluate(raw)["dkim"]
    assert verdict["result"] == "fail"
    assert verdict["reason"].startswith("body hash mismatch")
    assert re.search(
        r"dkim=fail reason=\"body hash mismatch.*header\.d=office\.test", evaluate(raw)["authentication_results"]
    )


def test_dkim_fail_when_a_signed_header_changed() -> None:
    raw = sign(MESSAGE).replace(b"Subject: report", b"Subject: [EXT] report")
    [verdict] = evaluate(raw)["dkim"]
    assert verdict["result"] == "fail"
    assert "body hash" not in verdict["reason"]


def test_dkim_permerror_without_a_published_key() -> None:
    [verdict] = evaluate(sign(MESSAGE, selector="nokey"))["dkim"]
    assert verdict["result"] == "permerror"
    assert "missing public key" in verdict["reason"]


@pytest.mark.parametrize("selector", ["gone", "slow"])
def test_dkim_temperror_when_the_key_query_fails(selector: str) -> None:
    [verdict] = evaluate(sign(MESSAGE, selector=selector))["dkim"]
    assert verdict["result"] == "temperror"
    assert verdict["reason"].startswith(f"key query failed: {selector}._domainkey.office.test")


def test_every_signature_has_its_own_verdict() -> None:
    broken = sign(MESSAGE).replace(b"The figures.", b"The figures, converted.")
    raw = sign(broken, domain="relay.test")
    verdicts = evaluate(raw)["dkim"]
    assert [(v["domain"], v["result"]) for v in verdicts] == [("relay.test", "pass"), ("office.test", "fail")]


# ---- DMARC -----------------------------------------------------------------------------------


def test_dmarc_pass_with_an_aligned_dkim_signature() -> None:
    verdict = evaluate(sign(MESSAGE), ip=FALLBACK_IP)["dmarc"]
    assert verdict["result"] == "pass"
    assert verdict["policy"] == "reject"
    assert "aligned: dkim (office.test)" in verdict["reason"]


def test_dmarc_fail_with_only_a_non_aligned_spf_pass() -> None:
    verdicts = evaluate(mail_from="bounces@provider.test")
    assert verdicts["spf"]["result"] == "pass"
    assert verdicts["dmarc"]["result"] == "fail"
    assert verdicts["dmarc"]["reason"].endswith("no aligned SPF or DKIM pass")
    assert "dmarc=fail header.from=office.test policy.dmarc=reject" in verdicts["authentication_results"]


def test_dmarc_fail_when_the_only_aligned_signature_is_broken() -> None:
    raw = sign(MESSAGE).replace(b"The figures.", b"changed")
    assert evaluate(raw, ip=FALLBACK_IP)["dmarc"]["result"] == "fail"


def test_dmarc_none_and_temperror() -> None:
    other = MESSAGE.replace(b"alice@office.test", b"alice@norecord.test")
    assert evaluate(other)["dmarc"]["result"] == "none"
    servfail = MESSAGE.replace(b"alice@office.test", b"alice@broken.test")
    verdict = evaluate(servfail)["dmarc"]
    assert verdict["result"] == "temperror"
    assert verdict["reason"].startswith("policy query failed: _dmarc.broken.test")


def test_dmarc_of_a_subdomain_uses_the_organizational_domains_record() -> None:
    raw = MESSAGE.replace(b"alice@office.test", b"alice@mail.office.test")
    verdict = evaluate(raw, mail_from="alice@office.test")["dmarc"]
    assert verdict["result"] == "pass"  # relaxed alignment: office.test is mail.office.test's organization
    assert verdict["reason"] == "record of office.test; aligned: spf (office.test)"
    assert authcheck.org_domain("mail.office.test") == "office.test"
    assert authcheck.org_domain("a.b.co.uk") == "b.co.uk"


# ---- many messages -----------------------------------------------------------------------------


def test_checking_many_messages_registers_no_logger_and_keeps_each_reason() -> None:
    """dkimpy's reasons are caught by a logger of each call's own: none is left registered
    with logging (one a message would pile up, and every setLevel walks them all)."""
    before = len(logging.Logger.manager.loggerDict)
    raws = [sign(MESSAGE), sign(MESSAGE, selector="nokey")] * 25
    verdicts = [authcheck.check_dkim(raw, authcheck.resolver_txt)[0] for raw in raws]
    assert len(logging.Logger.manager.loggerDict) == before
    assert [v["result"] for v in verdicts] == ["pass", "permerror"] * 25
    assert all("missing public key" in v["reason"] for v in verdicts[1::2])
