"""The client programs of ``harness/agent`` (what client and sink nodes run to send mail and ask
DNS questions) on their own, on loopback. No Docker needed; only 127.0.0.1 is ever used.

The SMTP client against a running sink is in ``kinds/sink/test_sink_agent.py``.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.rrset
import pytest
from kindtests import LOOPBACK, free_port

from harness.agent import dns_query, smtp_send

# --- the SMTP client ---------------------------------------------------------------------------


def test_the_client_reports_a_refused_connection_as_an_error() -> None:
    port = free_port()  # nothing listens there
    result = smtp_send.send(
        {
            "host": LOOPBACK,
            "port": port,
            "helo": "cl.example.test",
            "mail_from": "a@example.test",
            "rcpt_to": ["b@remote.test"],
            "message": "",
            "timeout": 2,
        }
    )
    assert result["transcript"] == []
    assert result["error"] is not None and result["error"].startswith("connect: ")
    assert "refused" in result["error"].lower()


def test_a_batch_runs_every_session_in_order_and_prints_one_result_each(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = free_port()  # nothing listens there: each session's own error says where it went
    requests = [
        {"host": LOOPBACK, "port": closed, "helo": "cl.example.test", "mail_from": f"a{i}@example.test",
         "rcpt_to": ["b@remote.test"], "message": "", "timeout": 2}
        for i in range(3)
    ]  # fmt: skip
    path = tmp_path / "batch.json"
    path.write_text(json.dumps({"batch": requests}))
    assert smtp_send.main([str(path)]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert list(printed) == ["results"] and len(printed["results"]) == 3
    assert all(r["transcript"] == [] and "refused" in r["error"].lower() for r in printed["results"])


# --- DNS client ------------------------------------------------------------------------------


class Responder:
    """A tiny authoritative DNS server on 127.0.0.1/UDP: one A record, NXDOMAIN otherwise."""

    def __init__(self, answer_queries: bool = True) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.answer_queries = answer_queries
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.answer_queries:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            if question.name.to_text() == "mx.remote.test.":
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", "10.231.0.30"))
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def on_port(monkeypatch: pytest.MonkeyPatch) -> Any:
    """dns_query.query asks port 53; point it at a loopback test port instead."""
    real_udp = dns.query.udp

    def use(port: int) -> None:
        monkeypatch.setattr(
            dns.query,
            "udp",
            lambda request, where, timeout=None: real_udp(request, where, timeout=timeout, port=port),
        )

    return use


def test_dns_query_returns_the_answer(on_port: Any) -> None:
    responder = Responder()
    try:
        on_port(responder.port)
        assert dns_query.query(LOOPBACK, "mx.remote.test", "A") == {
            "rcode": "NOERROR",
            "answer": ["10.231.0.30"],
            "error": None,
        }
        assert dns_query.query(LOOPBACK, "gone.test", "MX") == {"rcode": "NXDOMAIN", "answer": [], "error": None}
    finally:
        responder.close()


def test_dns_query_times_out_when_nothing_answers(on_port: Any) -> None:
    silent = Responder(answer_queries=False)
    try:
        on_port(silent.port)
        assert dns_query.query(LOOPBACK, "slow.test", "A", timeout=0.3) == {
            "rcode": "TIMEOUT",
            "answer": [],
            "error": None,
        }
    finally:
        silent.close()


def test_dns_query_to_a_closed_port_times_out(on_port: Any) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        port = int(sock.getsockname()[1])
    on_port(port)  # nothing listens: the ICMP port-unreachable is not seen by an unconnected socket
    assert dns_query.query(LOOPBACK, "mx.remote.test", "A", timeout=0.3) == {
        "rcode": "TIMEOUT",
        "answer": [],
        "error": None,
    }


def test_dns_query_main_prints_json(on_port: Any, capsys: pytest.CaptureFixture[str]) -> None:
    responder = Responder()
    try:
        on_port(responder.port)
        assert dns_query.main([LOOPBACK, "mx.remote.test", "A"]) == 0
    finally:
        responder.close()
    assert json.loads(capsys.readouterr().out) == {"rcode": "NOERROR", "answer": ["10.231.0.30"], "error": None}
