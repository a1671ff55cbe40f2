import os
import sys

import pytest
import torch
from hypothesis import settings

# Property tests are derandomised by default, so `make test` (and CI) gives the same result on
# every run; `make test-explore` runs them again with fresh randomness.
settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

sys.path.insert(0, os.path.dirname(__file__))

# The registry imports every cases_<family>.py itself; with --doctest-modules (on for the package's
# docstring examples) pytest would import them first, half-way through the registry's own import.
collect_ignore_glob = ["cases_*.py"]

# Under pytest-xdist each worker gets one thread, so workers do not oversubscribe the cores.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)
