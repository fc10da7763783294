"""One list of fast instances of every public estimator: it drives scikit-learn's checks and every
cross-cutting test (set_output, pickling in a fresh process, determinism, bad input).

A new public estimator gets one line in ``PUBLIC`` (and its class in ``sknas.__all__``);
``test_every_public_estimator_is_listed`` fails until it has one.
"""

from sknas import (AutoSegmenter, BayesFeatureSearch, DARTSFeatureSearch, EvoFeatureSearch, NeuralFeatureMap,
                   OptunaFeatureSearch, ParetoFeatureSearch, ProgressiveFeatureSearch, RandomFeatureSearch,
                   RLFeatureSearch)
from sknas.space import Architecture, Block

from .conftest import FAST, FAST_SEARCH


def _search(cls, max_trials=2, **params):
    return cls(n_components=2, n_clusters=3, **{**FAST_SEARCH, "max_trials": max_trials}, **params)


#: Fast instances, one per public estimator class (each fits in about a second on 300 rows).
PUBLIC = [
    NeuralFeatureMap(n_components=2, **FAST),
    _search(RandomFeatureSearch),
    _search(DARTSFeatureSearch, warmup_epochs=1),
    _search(EvoFeatureSearch, max_trials=4, population_size=2),
    _search(ParetoFeatureSearch, max_trials=4, population_size=2),
    _search(ProgressiveFeatureSearch, max_trials=6, beam_width=2),
    _search(RLFeatureSearch, max_trials=5, controller_batch_size=2),
    _search(BayesFeatureSearch, max_trials=5, n_initial=3, n_candidates=20),
    _search(OptunaFeatureSearch, max_trials=5),
    AutoSegmenter(n_components=2, n_clusters=3, max_trials=2, max_epochs=2, device="cpu", random_state=0,
                  search_params={"batch_size": 64, "search_space": FAST_SEARCH["search_space"]}),
]

#: Variants scikit-learn's checks also run (a warm start changes the code path of a fit).
VARIANTS = [
    _search(RandomFeatureSearch, max_trials=4, init=Architecture((Block("gated", 8),))),
    _search(RandomFeatureSearch, max_trials=6, screening=0.5),  # successive halving: two fidelities
]


def ids(estimator):
    """A test id: the class name."""
    return type(estimator).__name__
