"""Ask one DNS question with dnspython and print the answer as JSON.

Runs inside a topology container against the topology's BIND. Usage:
dns_query.py SERVER NAME TYPE. Output: {"rcode", "answer": [rdata text], "error"}.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype


def query(server: str, name: str, rtype: str, timeout: float = 3.0) -> dict[str, Any]:
    request = dns.message.make_query(name, dns.rdatatype.from_text(rtype))
    try:
        response = dns.query.udp(request, server, timeout=timeout)
    except dns.exception.Timeout:
        return {"rcode": "TIMEOUT", "answer": [], "error": None}
    except OSError as exc:
        return {"rcode": "ERROR", "answer": [], "error": str(exc)}
    answer = [rdata.to_text() for rrset in response.answer for rdata in rrset]
    return {"rcode": dns.rcode.to_text(response.rcode()), "answer": answer, "error": None}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    json.dump(query(args[0], args[1], args[2]), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
