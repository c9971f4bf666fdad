"""A running topology: its networks (``networks``), its nodes (``node``), sending test mail
into it (``sending``), and the lifecycle that ties them together (``topology``)."""

from harness.topology.node import NodeHandle
from harness.topology.sending import Sent, SmtpReply
from harness.topology.topology import Topology

__all__ = ["NodeHandle", "Sent", "SmtpReply", "Topology"]
