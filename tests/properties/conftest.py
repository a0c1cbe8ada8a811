"""Hypothesis profiles for the property tests.

`ci` (the default, what `make test` runs): 500 examples of up to 50 steps each, the size issue 13 asks of CI
(about 7-10 minutes on this 2-core machine when nothing else runs). Select another with the environment
variable HYPOTHESIS_PROFILE: `thorough` runs 2,000 examples of up to 100 steps and keeps Hypothesis' example
database (`.hypothesis/`) so a failure found once is replayed first next time; `quick` (50 × 20) is for working
on the state machine itself.
"""

import os

from hypothesis import HealthCheck, settings

COMMON = {
    "deadline": None,  # a step is a few database transactions: their time varies with the machine's load
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,  # a failure prints the blob that replays it (@reproduce_failure)
}
settings.register_profile("ci", max_examples=500, stateful_step_count=50, database=None, **COMMON)
settings.register_profile("thorough", max_examples=2000, stateful_step_count=100, **COMMON)
settings.register_profile("quick", max_examples=50, stateful_step_count=20, database=None, **COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
