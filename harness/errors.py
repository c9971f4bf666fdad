"""Every error the harness raises derives from :class:`HarnessError`.

User-fixable errors say what was checked and how to fix it; timeouts say what they waited
for, where, for how long, and the last state seen.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of all harness errors."""


class ScenarioError(HarnessError):
    """A scenario file is malformed. Raised at load time, before anything starts."""

    def __init__(self, file: str, line: int | None, path: str, problem: str, fix: str = "") -> None:
        self.file = file
        self.line = line
        self.path = path
        self.problem = problem
        self.fix = fix
        where = f"{file}:{line}" if line is not None else file
        key = f" {path}:" if path else ""
        text = f"{where}:{key} {problem}"
        if fix:
            text += f" ({fix})"
        super().__init__(text)


class EngineUnavailable(HarnessError):
    """No Docker engine answers."""


class ImageBuildError(HarnessError):
    """An image could not be built or bootstrapped."""


class ImageLacksTools(HarnessError):
    """A node's image (a user-supplied one, typically) lacks a tool its kind needs."""


class ConfigRejected(HarnessError):
    """A service's own tool refused the rendered configuration."""


class WaitTimeout(HarnessError):
    """A readiness wait or an expectation ran out of time."""


class StepError(HarnessError):
    """A scenario step could not be carried out (not an expectation that failed)."""


class ExpectationFailed(HarnessError, AssertionError):
    """An expectation of a scenario did not hold."""
