"""Shared test settings: one torch thread, and the fast parameters in one place."""

import pytest
import torch

torch.set_num_threads(1)

#: Parameters that make every estimator fit in well under a second on small data.
FAST = {"max_epochs": 2, "batch_size": 64, "random_state": 0, "device": "cpu"}
FAST_SEARCH = {**FAST, "max_trials": 2, "search_space": {"widths": (8,), "max_depth": 1}}


@pytest.fixture
def customers():
    from sknas.datasets import make_customers

    return make_customers(n_samples=300, random_state=0, return_X_y=True)
