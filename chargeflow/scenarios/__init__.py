"""Lifecycle scenarios: step-by-step YAML files that drive charges through the public facade
and state what must hold after each step.

`load_scenario` reads and validates a file (`ScenarioFormatError` names the step and field of
each problem); `run_scenario` runs it against an app with a frozen clock (`ScenarioFailure`
shows what differed, `StepReport` what each step left behind). The format is described in
`chargeflow.scenarios.model`. This package only reads and runs scenarios; it prints nothing.
"""

from chargeflow.scenarios.loading import ScenarioFormatError, load_scenario
from chargeflow.scenarios.model import Scenario
from chargeflow.scenarios.runner import ScenarioFailure, StepReport, run_scenario

__all__ = [
    "Scenario",
    "ScenarioFailure",
    "ScenarioFormatError",
    "StepReport",
    "load_scenario",
    "run_scenario",
]
