"""Finding scenario files by name or path."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import HarnessError

DEFAULT_DIR = Path(os.environ.get("MTA_HARNESS_SCENARIOS", "scenarios"))


def find_scenario(name: str | Path, scenarios_dir: Path = DEFAULT_DIR) -> Path:
    """A scenario file given as a path, or by name in ``scenarios_dir``."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    candidate = scenarios_dir / f"{name}.yaml"
    if candidate.is_file():
        return candidate
    known = ", ".join(p.stem for p in all_scenarios(scenarios_dir)) or "none"
    raise HarnessError(f"no scenario '{name}': neither {path} nor {candidate} exists (scenarios there: {known})")


def all_scenarios(scenarios_dir: Path = DEFAULT_DIR) -> list[Path]:
    return sorted(scenarios_dir.glob("*.yaml")) if scenarios_dir.is_dir() else []
