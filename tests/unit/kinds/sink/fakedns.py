"""A DNS server on loopback for the sink's unit tests: answers from a dict, in a thread.

Names map to TXT strings or A addresses; a name mapped to ``SERVFAIL`` gets that rcode, and
one mapped to ``DROP`` no answer at all. Every other name is NXDOMAIN. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SERVFAIL = "SERVFAIL"
DROP = "DROP"
Zone = dict[tuple[str, str], "list[str] | str"]  # (name, type) -> records, or SERVFAIL/DROP


def answer(zone: Zone, wire: bytes) -> bytes | None:
    query = dns.message.from_wire(wire)
    response = dns.message.make_response(query)
    question = query.question[0]
    name = question.name.to_text().rstrip(".").lower()
    rtype = dns.rdatatype.to_text(question.rdtype)
    entry = zone.get((name, rtype))
    if entry is None and any(n == name for n, _ in zone):
        entry = []  # the name exists, not this type: NODATA
    if entry == DROP:
        return None
    if entry == SERVFAIL:
        response.set_rcode(dns.rcode.SERVFAIL)
    elif entry is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
    else:
        assert isinstance(entry, list)
        texts = [" ".join(f'"{part}"' for part in _chunks(e)) if rtype == "TXT" else e for e in entry]
        if texts:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rtype, texts))
    return response.to_wire()


def _chunks(text: str) -> list[str]:
    """A TXT record's strings: at most 255 characters each, as zone files split them."""
    return [text[i : i + 255] for i in range(0, len(text), 255)] or [""]


@contextmanager
def serving(zone: Zone) -> Iterator[int]:
    """Serve ``zone`` on 127.0.0.1 (UDP); yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            reply = answer(zone, wire)
            if reply is not None:
                sock.sendto(reply, peer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        sock.close()
