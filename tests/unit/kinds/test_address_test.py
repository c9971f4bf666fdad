"""The kinds' address tests read on output recorded from real containers of every suite
(``<kind>/data/addresstest``, scenario relay-store-rulesets): sendmail's ``-bt`` trace,
and Postfix's ``sendmail -bv`` output followed by the log lines it produced."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.kinds import AddressTester, kind_of
from harness.kinds.base import AddressTest
from harness.kinds.postfix import verify
from harness.kinds.sendmail import addresstest

HERE = Path(__file__).parent
SUITES = ("bullseye", "bookworm", "trixie")

SENDMAIL = {
    "hostg-taro": ("esmtp", "mstore.nix.co.jj", "taro<@nix.co.jj>"),
    "hostg-netmaster": ("esmtp", "mstore.nix.co.jj", "netmaster<@nix.co.jj>"),
    "merged-taro": ("esmtp", "nix.co.jj.", "taro<@nix.co.jj.>"),
    "ruleset-3": (None, None, None),
    "unknown-ruleset": (None, None, None),
}
POSTFIX = {
    "taro@nix.co.jj": ("smtp", "mstore.nix.co.jj", "taro@nix.co.jj"),
    "root": ("local", "local", "root@pfrelay.nix.co.jj"),
    "nobody@nowhere.invalid": ("smtp", "none", "nobody@nowhere.invalid"),
}


def address_tester(kind: str) -> AddressTester:
    found = kind_of(kind)
    assert isinstance(found, AddressTester)
    return found


def fields(test: AddressTest) -> tuple[str | None, str | None, str | None]:
    return test.mailer, test.host, test.user


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("case", sorted(SENDMAIL))
def test_sendmail_bt_trace(suite: str, case: str) -> None:
    text = (HERE / "sendmail" / "data" / "addresstest" / f"{suite}-sendmail-bt-{case}.txt").read_text()
    test = address_tester("sendmail").parse_address_test("taro@nix.co.jj", None, text)
    assert fields(test) == SENDMAIL[case]
    assert test.transcript == text and test.command == "echo '3,0 taro@nix.co.jj' | sendmail -bt"
    if case == "unknown-ruleset":
        assert test.result == "Undefined ruleset NoSuch"


def test_sendmail_tokens_are_joined_but_quoted_strings_keep_their_spaces() -> None:
    test = addresstest.parse("t", '> parse            returns: $# error $@ 5 . 1 . 1 $: "550 User unknown"\n> ')
    assert fields(test) == ("error", "5.1.1", '"550 User unknown"')
    assert fields(addresstest.parse("t", "parse returns: $# local $: taro\n")) == ("local", None, "taro")


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("address", sorted(POSTFIX))
def test_postfix_bv_verdict(suite: str, address: str) -> None:
    text = (HERE / "postfix" / "data" / "addresstest" / f"{suite}-postfix-bv-{address.split('@')[0]}.txt").read_text()
    test = address_tester("postfix").parse_address_test(address, None, text)
    assert fields(test) == POSTFIX[address]
    assert test.command == f"sendmail -bv {address}" and "status=" in test.result
    said, *logged = test.transcript.splitlines()
    assert said == "Mail Delivery Status Report will be mailed to <root>."
    qid = test.result.split(": ")[1]
    assert logged and all(f": {qid}: " in line for line in logged)  # the report's own delivery is left out


def test_postfix_without_a_verdict_gives_no_result() -> None:
    test = verify.parse("sendmail -bv x@y", "Mail Delivery Status Report will be mailed to <root>.\n", "x@y")
    assert (test.result, test.mailer, test.transcript) == (
        "",
        None,
        "Mail Delivery Status Report will be mailed to <root>.",
    )


def test_postfix_transport_from_the_agents_log_name() -> None:
    assert [verify.transport_of(p) for p in ("postfix/smtp", "postfix/relay/smtp", "postfix/local")] == [
        "smtp",
        "relay",
        "local",
    ]
