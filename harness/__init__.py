"""mta-harness: real mail servers in containers, wired into topologies, observed end to end.

Data flow: ``scenario`` (YAML) -> ``render`` (config files) -> ``core.images`` (images) ->
``topology`` (running nodes) -> ``observe`` (logs, queues, captures, DNS) -> ``runner``
(expectations).
"""

from harness.errors import HarnessError, ScenarioError
from harness.scenario.loader import load_scenario, load_scenario_text
from harness.scenario.model import SUITES, Scenario

__all__ = ["SUITES", "HarnessError", "Scenario", "ScenarioError", "load_scenario", "load_scenario_text"]
