"""The registry of node kinds. A new kind is one module and one line here."""

from __future__ import annotations

from harness.services.base import Service
from harness.services.bind import BindService
from harness.services.postfix import PostfixService
from harness.services.sendmail import SendmailService
from harness.services.sink import ClientService, SinkService

SERVICES: dict[str, Service] = {
    service.kind: service
    for service in (PostfixService(), SendmailService(), BindService(), SinkService(), ClientService())
}


__all__ = ["SERVICES", "Service", "service_for"]


def service_for(kind: str) -> Service:
    return SERVICES[kind]
