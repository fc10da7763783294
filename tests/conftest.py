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


@pytest.fixture
def long_tailed_blobs():
    """Three blobs and a long-tailed ``spend`` column: on the columns as given, no k from 2 to 10 is admissible
    for a fast ``AutoSegmenter`` (segments of a few far rows, or unstable), which its deskewed rerun mends
    (``docs/selection.md``, "Skewed columns")."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=300, centers=3, n_features=2, cluster_std=0.6, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b"])
    frame["spend"] = np.random.default_rng(0).lognormal(0, 2.5, 300)
    return frame
