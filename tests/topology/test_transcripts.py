"""SMTP transcripts on real MTAs: a relay-store run whose last expectation fails shows the
relay -> store dialogue of the message it is about, as captured on the wire, with the queue
id the store gave it (the same the relay logged); the capture sidecars go with the run."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.runner import run_scenario
from harness.scenario.loader import load_scenario

pytestmark = [pytest.mark.topology, pytest.mark.mta_subnets("10.229.2.0/24")]

# About 'in-site' (sender -> mrelay -> mstore), after later messages were sent.
FAILING_STEP = "  - expect_log: {at: mstore, message: in-site, match: 'a line no MTA writes', within: 1}\n"


def test_a_failing_relay_store_run_shows_the_relay_to_store_dialogue(
    mta_suite: str, scenario_copy: Callable[..., Path], labelled_objects: Callable[[str], list[str]]
) -> None:
    path = scenario_copy("relay-store-transcripts", "10.229.1.", "10.229.2.", extra=FAILING_STEP)
    path.write_text(path.read_text().replace("\ntranscripts: true\n", "\n"))  # asked for by the run instead
    scenario = load_scenario(path)
    assert not scenario.transcripts

    result = run_scenario(scenario, mta_suite, transcripts=True)

    assert not result.passed and result.steps[-1].status == "failed", result.report()
    report = result.report()
    section = report.split("\n=== SMTP transcripts ===\n", 1)[1]
    hops = section.split("\nSMTP ")
    assert hops[0].startswith("the hops of message 'in-site' <in-site."), section
    assert len(hops) == 3, result.report(details=True)
    assert [h.split(" at ", 1)[0] for h in hops[1:]] == [
        f"sender (10.229.2.100:{_port(hops[1])}) -> mrelay (10.229.2.10:25)",
        f"mrelay (10.229.2.10:{_port(hops[2])}) -> mstore (10.229.2.20:25)",
    ], section
    relay_to_store = hops[2]
    for line in (
        "S: 220 mstore.nix.co.jj ESMTP Postfix",
        "C: EHLO mrelay.nix.co.jj",
        "C: MAIL FROM:<friend@outside.test>",
        "C: RCPT TO:<taro@nix.co.jj>",
        "C: DATA",
        "S: 354 End data with <CR><LF>.<CR><LF>",
        "C: QUIT",
        "S: 221 2.0.0 Bye",
    ):
        assert line in relay_to_store, relay_to_store
    qid = re.search(r"S: 250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)\n", relay_to_store)
    assert qid is not None, relay_to_store
    # the store's queue id, as the relay logged the store's reply
    assert re.search(rf"mrelay postfix/smtp\[\d+\]: \w+: to=<taro@nix\.co\.jj>.*queued as {qid[1]}\)", report)
    assert f"queued at mstore as {qid[1]}; captured at mstore" in relay_to_store
    assert "454 4.7.1" not in section  # a later message's session is not a hop of this one

    details = result.report(details=True)
    every = details.split("=== SMTP transcripts (every session of the run) ===", 1)[1]
    assert "C: STARTTLS" in every and "-- TLS from here on: the rest of the session is encrypted" in every
    assert "S: 250 2.0.0 " in every and "Message accepted for delivery" in every  # sendmail at hostc
    assert "S: 454 4.7.1 <victim@not-ours.test>: Relay access denied" in every
    assert labelled_objects(scenario.name) == []  # the sidecars went with the nodes


def _port(heading: str) -> str:
    return heading.split(":", 1)[1].split(")", 1)[0]


# Debian's Postfix talks TLS to the next hop where its main.cf says so (measured: bullseye and
# bookworm ship smtp_tls_security_level = may and a snakeoil certificate, trixie neither).
RELAY_HOP_ENCRYPTED = {"bullseye": True, "bookworm": True, "trixie": False}


def test_with_debian_tls_defaults_the_relay_to_store_hop_is_tied_by_the_relay_log(
    mta_suite: str, scenario_copy: Callable[..., Path]
) -> None:
    path = scenario_copy("relay-store-transcripts", "10.229.1.", "10.229.2.", extra=FAILING_STEP)
    path.write_text(path.read_text().replace("        smtp_tls_security_level: none\n", ""))
    scenario = load_scenario(path)

    result = run_scenario(scenario, mta_suite)

    report = result.report()
    assert not result.passed, report
    hops = report.split("\n=== SMTP transcripts ===\n", 1)[1].split("\nSMTP ")
    assert len(hops) == 3, result.report(details=True)
    relay_to_store = hops[2]
    assert relay_to_store.startswith("mrelay (10.229.2.10:"), relay_to_store
    if RELAY_HOP_ENCRYPTED[mta_suite]:
        qid = re.search(
            r"\n  \(encrypted; mrelay logged handing the message over in it: .*queued as (\w+)\)\)\n", relay_to_store
        )
        assert qid is not None, relay_to_store
        assert "  C: STARTTLS\n" in relay_to_store and "-- TLS from here on" in relay_to_store
        assert "MAIL FROM" not in relay_to_store
    else:
        assert "STARTTLS" not in relay_to_store and "(encrypted" not in relay_to_store
        assert "C: MAIL FROM:<friend@outside.test>" in relay_to_store
        assert re.search(r"S: 250 2\.0\.0 Ok: queued as \w+\n", relay_to_store), relay_to_store
