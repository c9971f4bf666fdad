"""The steps a scenario can take: each action and expectation is one typed class
(``actions``, ``expectations``, ``mailbox``) registered in :data:`STEPS`."""

from harness.steps import actions, expectations, mailbox
from harness.steps.base import STEPS, Checks, Key, StepSpec

__all__ = ["STEPS", "Checks", "Key", "StepSpec", "actions", "expectations", "mailbox"]
