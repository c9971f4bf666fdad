"""The settings the harness itself renders for one kind, each with its meaning.

Scenario settings are applied after these and win. Values may hold ``{hostname}``,
``{domain}`` and ``{ip}``, filled in per node.
"""

from __future__ import annotations

from harness.render.common import Param

SENDMAIL_DEFINES: tuple[Param, ...] = (
    Param("confLOG_LEVEL", "9", "log every delivery attempt with its status"),
    Param("confTO_ICONNECT", "5s", "initial connect timeout: unreachable peers fail in seconds"),
    Param("confTO_CONNECT", "5s", "connect timeout"),
    Param("confTO_INITIAL", "10s", "wait for the greeting"),
    Param("confHOST_STATUS_DIRECTORY", "", "(undefined) no persistent host status: each attempt is fresh"),
)
