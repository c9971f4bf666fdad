"""mta-harness: real mail servers in containers, wired into topologies, observed end to end.

Data flow: ``scenario`` (YAML, validated model) and ``steps`` (typed actions and
expectations) -> ``kinds`` (each node kind's settings, rendered configs, image, log and queue
parsers) -> ``core`` (images, containers, waits) -> ``topology`` (networks, running nodes,
sending) -> ``observe`` (logs, queues) -> ``runner`` (steps in order, diagnostics) ->
``report``.
"""

from harness.errors import HarnessError, ScenarioError
from harness.scenario.loader import load_scenario, load_scenario_text
from harness.scenario.model import SUITES, Scenario

__all__ = ["SUITES", "HarnessError", "Scenario", "ScenarioError", "load_scenario", "load_scenario_text"]
