"""What BIND's rendered files say (``golden/``, kept by ``tests/unit/test_render.py``), checked
as a DNS administrator would."""

from __future__ import annotations

from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"


def golden(scenario_name: str, node_name: str, relative: str) -> str:
    return (GOLDEN / scenario_name / node_name / relative).read_text(encoding="utf-8")


def test_zone_files_have_soa_ns_and_host_records() -> None:
    zone = golden("every-key", "ns", "etc/bind/harness/example.test.zone")
    lines = zone.splitlines()
    assert lines[:4] == [
        "$ORIGIN example.test.",
        "$TTL 60",
        "@ IN SOA ns.example.test. hostmaster.ns.example.test. 1 3600 600 86400 60",
        "@ IN NS ns.example.test.",
    ]
    assert "@ IN MX 10 pf" in lines
    assert "smtp 300 IN CNAME pf" in lines
    # every node whose hostname is in the zone gets an A record for its first address
    for host, ip in (("ns", "10.201.0.53"), ("pf", "10.201.0.10"), ("sm", "10.201.0.11"), ("cl", "10.201.0.5")):
        assert f"{host}.example.test. IN A {ip}  ; host record of node {host}" in lines
    remote = golden("every-key", "ns", "etc/bind/harness/remote.test.zone")
    assert "mx.remote.test. IN A 10.202.0.30  ; host record of node mx" in remote
    assert "@ IN MX 10 mx" in remote
    root = golden("every-key", "ns", "etc/bind/harness/root.zone").splitlines()
    assert root[0] == "$ORIGIN ."
    assert "ns.example.test. IN A 10.201.0.53" in root


def test_named_conf_declares_every_zone_and_the_policies() -> None:
    conf = golden("every-key", "ns", "etc/bind/named.conf")
    for origin, file in (
        (".", "root.zone"),
        ("example.test.", "example.test.zone"),
        ("remote.test.", "remote.test.zone"),
        ("0.201.10.in-addr.arpa.", "0.201.10.in-addr.arpa.zone"),
        ("rpz.harness.", "rpz.harness.zone"),
    ):
        assert f'zone "{origin}" {{ type master; file "/etc/bind/harness/{file}"; }};' in conf
    assert 'zone "broken.test." { type master; file "/etc/bind/harness/servfail.missing"; };' in conf
    assert 'response-policy { zone "rpz.harness"; }' in conf
    # Its node is on a dual-stack network: BIND listens on IPv6 too; on an IPv4-only one, not.
    assert "listen-on-v6 { any; };" in conf and "querylog yes;" in conf
    assert "listen-on-v6 { none; };" in golden("smoke", "ns", "etc/bind/named.conf")
    zone = golden("every-key", "ns", "etc/bind/harness/example.test.zone")
    # AAAA host records beside the A ones: the chosen address (cl) and the derived one (pf, 10 = 0xa).
    assert "cl.example.test. IN AAAA fd42:201::5  ; host record of node cl" in zone
    assert "pf.example.test. IN AAAA fd42:201::a  ; host record of node pf" in zone
    rpz = golden("every-key", "ns", "etc/bind/harness/rpz.harness.zone")
    assert "gone.test.rpz.harness. CNAME ." in rpz
    assert "nomx.test.rpz.harness. CNAME *." in rpz
    assert "slow.test.rpz.harness. CNAME rpz-drop." in rpz
    assert "broken.test" not in rpz  # servfail is an unloadable zone, not a policy
    smoke = golden("smoke", "ns", "etc/bind/named.conf")
    assert "response-policy" not in smoke and "servfail" not in smoke
