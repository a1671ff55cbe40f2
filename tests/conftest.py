import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.dirname(__file__))

# Under pytest-xdist each worker gets one thread, so workers do not oversubscribe the cores.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)
