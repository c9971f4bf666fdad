"""OpenDKIM's part of a signing node, read as an administrator would: its configuration, its
place in the start and stop scripts, what the MTAs are told, and the public key's TXT
records read from what opendkim-genkey wrote in real containers (``data/``). The zone edit
the DNS server makes to publish them is here too. No Docker needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.kinds import KINDS
from harness.kinds.bind import render as bind_render
from harness.kinds.opendkim import render
from harness.scenario.loader import load_scenario, load_scenario_text
from harness.scenario.model import DkimSigning, Record

HERE = Path(__file__).parent
EVERY_KEY = HERE.parent.parent / "scenarios" / "good" / "every_key.yaml"
DATA = HERE / "data"

SCENARIO = """
networks:
  lan: {subnet: 10.201.0.0/24}
  dmz: {subnet: 10.202.0.0/24}
nodes:
  ns: {kind: bind, hostname: ns.office.test, networks: {lan: 10.201.0.53}}
  pf:
    kind: postfix
    hostname: pf.office.test
    networks: {lan: 10.201.0.10, dmz: 10.202.0.10}
    dkim: {domain: office.test, selector: s1, sign: [office.test, shop.office.test], bits: 1024}
  sm:
    kind: sendmail
    hostname: sm.office.test
    networks: {lan: 10.201.0.11}
    dkim: {domain: office.test, selector: sm}
  plain: {kind: postfix, hostname: plain.office.test, networks: {lan: 10.201.0.12}}
dns:
  zones: {office.test: []}
"""


def conf(text: str) -> dict[str, str]:
    lines = [line.split(None, 1) for line in text.splitlines() if line and not line.startswith("#")]
    return {name: value for name, value in lines}


def test_the_configuration_signs_the_domains_with_the_made_key_for_every_topology_network() -> None:
    scenario = load_scenario_text(SCENARIO, "dkim.yaml")
    pf = scenario.node("pf")
    assert pf.dkim is not None
    settings = conf(render.conf_text(scenario, pf, pf.dkim))
    assert settings["Mode"] == "s"
    assert settings["Domain"] == "office.test,shop.office.test"
    assert (settings["Selector"], settings["KeyFile"]) == ("s1", "/etc/dkimkeys/s1.private")
    assert settings["Socket"] == "inet:8891@127.0.0.1"
    # local submissions (loopback) and every network's clients are signed, nobody else's
    assert settings["InternalHosts"] == "127.0.0.1,::1,10.201.0.0/24,10.202.0.0/24"
    assert settings["Canonicalization"] == "relaxed/simple"  # Debian's opendkim.conf
    assert (settings["Syslog"], settings["SyslogSuccess"], settings["UserID"]) == ("yes", "yes", "opendkim")


def test_opendkim_starts_before_the_mta_and_stops_after_it() -> None:
    scenario = load_scenario_text(SCENARIO, "dkim.yaml")
    for name, mta_start, log in (
        ("pf", "postfix start", "/var/log/opendkim.log"),
        ("sm", "/usr/sbin/sendmail -bd", "/var/log/mail.log"),
    ):
        node = scenario.node(name)
        config = KINDS[node.kind].render(scenario, node)
        start = config.start
        assert start.index("opendkim -x /etc/opendkim.conf") < start.index(mta_start), name
        assert f"busybox syslogd -O {log}" in start
        assert start.index("cp /etc/harness/resolv.conf") < start.index("opendkim -x")
        assert config.stop.index("pkill -x opendkim") > 0
        dkim = node.dkim
        assert dkim is not None
        bits = "1024" if name == "pf" else "2048"
        genkey = [c.argv for c in config.setup if c.argv[0] == "opendkim-genkey"]
        assert genkey == [
            ("opendkim-genkey", "-b", bits, "-d", "office.test", "-s", dkim.selector, "-D", "/etc/dkimkeys")
        ]
        assert ("/etc/opendkim.conf", render.conf_text(scenario, node, dkim), 0o644) in config.files


def test_a_node_without_the_key_runs_no_opendkim_and_tells_its_mta_nothing() -> None:
    scenario = load_scenario_text(SCENARIO, "dkim.yaml")
    config = KINDS["postfix"].render(scenario, scenario.node("plain"))
    assert "opendkim" not in config.start + config.stop
    assert not [path for path, _, _ in config.files if "opendkim" in path]
    assert "milter" not in " ".join(" ".join(c.argv) for c in config.setup)


def test_postfix_hands_smtp_and_local_mail_to_the_milter_and_defers_when_it_is_down() -> None:
    scenario = load_scenario(EVERY_KEY)
    node = scenario.node("pf")
    settings = dict(
        line.split(" = ", 1)
        for path, text, _ in KINDS["postfix"].render(scenario, node).files
        if path == "/etc/harness/main.cf.settings"
        for line in text.splitlines()
    )
    assert settings["smtpd_milters"] == settings["non_smtpd_milters"] == "inet:127.0.0.1:8891"
    assert settings["milter_default_action"] == "tempfail"


def test_sendmail_declares_the_filter_with_tempfail() -> None:
    scenario = load_scenario(EVERY_KEY)
    node = scenario.node("sm")
    mc = next(t for p, t, _ in KINDS["sendmail"].render(scenario, node).files if p == "/etc/mail/harness.mc")
    assert "INPUT_MAIL_FILTER(`opendkim', `S=inet:8891@127.0.0.1, F=T')dnl" in mc.splitlines()
    assert mc.index("INPUT_MAIL_FILTER") < mc.index("MAILER(`local')")


@pytest.mark.parametrize("sample", sorted(p.name for p in DATA.glob("*.txt")))
def test_the_key_record_is_read_whole_from_what_opendkim_genkey_wrote(sample: str) -> None:
    text = (DATA / sample).read_text()
    dkim = DkimSigning(domain="office.test", selector="s1", sign=("office.test", "shop.office.test"))
    records = render.records(dkim, text)
    assert [r.owner for r in records] == ["s1._domainkey.office.test.", "s1._domainkey.shop.office.test."]
    strings = render.key_strings(text)
    assert all(len(s) < 256 for s in strings)  # each a DNS character-string
    value = "".join(strings)
    assert value.startswith("v=DKIM1; h=sha256; k=rsa; p=MI")
    # 1024 bits: one string of key; 2048 bits: the key is split in two
    assert len(strings) == (2 if "1024" in sample else 3)
    assert records[0].rtype == "TXT" and records[0].rdata == " ".join(f'"{s}"' for s in strings)


def test_what_is_not_a_key_record_is_refused() -> None:
    with pytest.raises(ValueError, match="not a DKIM key record"):
        render.key_strings("s1._domainkey IN TXT ( )")


def test_publishing_appends_the_records_and_raises_the_serial() -> None:
    scenario = load_scenario_text(SCENARIO, "dkim.yaml")
    assert scenario.dns is not None
    zone = scenario.dns.zones[0]
    before = bind_render.zone_text(scenario, zone, "ns.office.test.")
    record = Record("s1._domainkey.office.test.", None, "TXT", '"v=DKIM1; k=rsa; " "p=MIGf"')
    after = bind_render.with_records(before, (record,), "published at start")
    assert "@ IN SOA ns.office.test. hostmaster.ns.office.test. 1 3600" in before
    assert "@ IN SOA ns.office.test. hostmaster.ns.office.test. 2 3600 600 86400 60" in after
    assert after.endswith('s1._domainkey.office.test. IN TXT "v=DKIM1; k=rsa; " "p=MIGf"  ; published at start\n')
    again = bind_render.with_records(after, (record,), "again")
    assert " 3 3600 " in again
    assert bind_render.zone_file_of(scenario, "s1._domainkey.shop.office.test.") == (
        "office.test.",
        "/etc/bind/harness/office.test.zone",
    )
    assert bind_render.zone_file_of(scenario, "s1._domainkey.other.test.") is None
    with pytest.raises(ValueError, match="no SOA"):
        bind_render.with_records("$ORIGIN x.\n", (record,), "x")
