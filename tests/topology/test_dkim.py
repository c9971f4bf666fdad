"""DKIM signing (scenarios/dkim-signing.yaml): what the Postfix and the sendmail signer send
carries a DKIM-Signature of the right domain and selector that VERIFIES against the
topology's DNS (Debian's opendkim-testmsg, run in a node, resolving through the topology's
BIND: with no signing key configured it verifies, and exits non-zero on a bad or missing
signature); the key is served whole by BIND; mail of other From: domains is not signed; a
signer that is down makes the MTA answer 4xx instead of sending the mail unsigned."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import re
from collections.abc import Callable
from typing import Any

import pytest

from harness.kinds.opendkim.render import key_strings, record_file
from harness.observe.logs import queue_ids_for
from harness.runner import RunResult, execute
from harness.scenario.model import Record
from harness.topology import Topology
from harness.topology.node import NodeHandle

pytestmark = [pytest.mark.topology, pytest.mark.mta_subnets("10.227.0.0/24")]

# message -> (d=, s=) of its signature; measured on bullseye, bookworm and trixie.
SIGNED = {
    "pf-relayed": ("office.test", "pf2026"),  # SMTP from a client of the topology's network
    "pf-local": ("office.test", "pf2026"),  # the sendmail command: non_smtpd_milters
    "sm-relayed": ("branch.test", "sm1"),
    "sm-sub": ("shop.branch.test", "sm1"),  # a domain of the node's `sign:` list
}
# sent to the verifier's mailboxes (checked in the scenario itself)
VERIFIED = {"pf-verify": ("office.test", "pf2026"), "sm-verify": ("branch.test", "sm1")}
# pf-other, sm-other: a From: domain not signed for. sm-local: sendmail runs its milters only
# for mail it receives by SMTP; a command-line submission in MTA mode (-Am) is not filtered.
UNSIGNED = ("pf-other", "sm-other", "sm-local")
VERIFIER = "pf"  # any node with opendkim-tools


def _headers(raw: bytes) -> Any:
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)


def _tags(signature: str) -> dict[str, str]:
    text = re.sub(r"\s+", "", signature)
    return dict(part.split("=", 1) for part in text.split(";") if "=" in part)


def _testmsg(node: NodeHandle, raw: bytes) -> tuple[int, str]:
    """opendkim-testmsg on a message in the node: exit code and what it printed."""
    node.container.put_files([("/tmp/dkim-check.eml", raw, 0o644)])
    result = node.run("opendkim-testmsg < /tmp/dkim-check.eml 2>&1")
    return result.code, result.output.strip()


def _captures(topo: Topology) -> dict[str, bytes]:
    by_id = {c["message_id"]: base64.b64decode(c["raw"]) for c in topo.node("mx").captures()}
    return {
        name: by_id[sent.message.message_id] for name, sent in topo.sent.items() if sent.message.message_id in by_id
    }


@pytest.fixture
def dkim_topology(topology_factory: Callable[..., Topology], mta_suite: str) -> Topology:
    topo = topology_factory("dkim-signing", suite=mta_suite)
    result = RunResult(topo.scenario, mta_suite)
    execute(topo, result)
    assert result.passed, result.report(details=True)
    return topo


def test_signed_mail_verifies_against_the_topology_dns(dkim_topology: Topology) -> None:
    captured = _captures(dkim_topology)
    verifier = dkim_topology.node(VERIFIER)
    for name, (domain, selector) in SIGNED.items():
        headers = _headers(captured[name])
        signatures = headers.get_all("DKIM-Signature") or []
        assert len(signatures) == 1, f"{name}: {len(signatures)} DKIM-Signature fields"
        tags = _tags(signatures[0])
        assert (tags["d"], tags["s"], tags["a"]) == (domain, selector, "rsa-sha256"), f"{name}: {tags}"
        code, output = _testmsg(verifier, captured[name])
        assert (code, output) == (0, ""), f"{name} does not verify: exit {code}: {output}"
        # The check can fail: a signed header changed in transit breaks the signature.
        tampered = captured[name].replace(b"Subject: ", b"Subject: changed ", 1)
        code, output = _testmsg(verifier, tampered)
        assert code != 0 and "Bad signature" in output, f"{name} tampered: exit {code}: {output}"
    for name in UNSIGNED:
        assert _headers(captured[name]).get_all("DKIM-Signature") is None, f"{name} is signed"
        code, output = _testmsg(verifier, captured[name])
        assert code != 0 and "No signature" in output, f"{name}: exit {code}: {output}"


def test_the_public_keys_are_served_whole_by_bind(dkim_topology: Topology) -> None:
    ns = dkim_topology.node("ns")
    for signer in ("pf", "sm"):
        handle = dkim_topology.node(signer)
        dkim = handle.node.dkim
        assert dkim is not None
        made = "".join(key_strings(handle.container.read_file(record_file(dkim))))
        assert made.startswith("v=DKIM1;") and "p=MI" in made
        for domain in dkim.domains:
            name = dkim.record_name(domain)
            answer = ns.exec(["dig", "@127.0.0.1", "+short", "+norecurse", name, "TXT"]).strip()
            served = "".join(re.findall(r'"([^"]*)"', answer))
            assert served == made, f"{name}: BIND serves {answer!r}"
            # and from inside the topology, as a receiving MTA would ask
            asked = dkim_topology.dns_query(name, "TXT")
            assert asked["rcode"] == "NOERROR" and len(asked["answer"]) == 1, asked


def test_publishes_one_after_another_into_one_zone_are_each_served(dkim_topology: Topology) -> None:
    # Each publish rewrites the zone file and reloads it; one that follows within the second
    # of the last load must not be taken for a file named has loaded already.
    ns = dkim_topology.node("ns")
    for n in range(4):
        record = Record(owner=f"again{n}.branch.test.", ttl=None, rtype="TXT", rdata=f'"publish {n}"')
        ns.publish(dkim_topology.scenario, (record,))  # waits until served, else raises
    for n in range(4):
        answer = ns.exec(["dig", "@127.0.0.1", "+short", "+norecurse", f"again{n}.branch.test", "TXT"]).strip()
        assert answer == f'"publish {n}"', (n, answer)


def test_opendkim_logs_each_signature_with_the_mta_queue_id(dkim_topology: Topology) -> None:
    """OpenDKIM's lines carry the MTA's queue id: each signed message has its line, each
    other one none (Postfix nodes: /var/log/opendkim.log; sendmail: the mail log)."""
    opendkim_log = {"pf": dkim_topology.node("pf").exec(["cat", "/var/log/opendkim.log"])}
    opendkim_log["sm"] = dkim_topology.node("sm").log_text()
    for name, sent in dkim_topology.sent.items():
        handle = dkim_topology.node(sent.server or sent.source)
        if handle.name not in opendkim_log:
            continue
        qids = queue_ids_for(handle.log_lines(), sent.message.message_id)
        assert qids, f"{name}: no queue id at {handle.name}"
        lines = [line for line in opendkim_log[handle.name].splitlines() if "opendkim[" in line]
        own = [line.split(": ", 1)[1] for line in lines if any(f"]: {qid}: " in line for qid in qids)]
        signed = SIGNED.get(name) or VERIFIED.get(name)
        if signed is not None:
            domain, selector = signed
            assert [x.split(": ", 1)[1] for x in own] == [f"DKIM-Signature field added (s={selector}, d={domain})"], own
        elif name in ("pf-other", "sm-other"):
            assert [x.split(": ", 1)[1] for x in own] == [
                "no signing domain match for 'elsewhere.test'",
                "no signing subdomain match for 'elsewhere.test'",
            ], own
        else:
            assert own == [], f"{name}: {own}"


def test_a_signer_that_is_down_makes_the_mta_defer_not_send_unsigned(dkim_topology: Topology) -> None:
    replies = {}
    for signer in ("pf", "sm"):
        handle = dkim_topology.node(signer)
        assert handle.node.dkim is not None
        handle.run("pkill -x opendkim; while pgrep -x opendkim >/dev/null; do sleep 0.05; done")
        sender = f"x@{handle.node.dkim.domain}"
        sent = dkim_topology.send(f"{signer}-down", "cl", ["bob@remote.test"], mail_from=sender, server=signer)
        assert not sent.accepted
        replies[signer] = [(r.stage, r.code, r.text) for r in sent.transcript if r.code >= 400][:1]
    # Postfix (milter_default_action = tempfail) refuses from the connection on; sendmail
    # (F=T) temp-fails the commands once the milter could not be opened.
    assert replies["pf"][0][1:] == (451, "4.7.1 Service unavailable - try again later"), replies
    assert replies["sm"][0][1] == 451 and replies["sm"][0][2].startswith("4.3.2"), replies
    log = dkim_topology.node("sm").log_text()
    assert "Milter: initialization failed, temp failing commands" in log, log[-2000:]
