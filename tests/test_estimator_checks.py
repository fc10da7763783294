"""scikit-learn's own estimator checks on every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sknas import DARTSFeatureSearch, EvoFeatureSearch, NeuralFeatureMap, RandomFeatureSearch
from sknas import ParetoFeatureSearch
from sknas import ProgressiveFeatureSearch
from sknas import BayesFeatureSearch, RLFeatureSearch
from sknas import AutoSegmenter

from sknas.space import Architecture, Block

from .conftest import FAST, FAST_SEARCH

ESTIMATORS = [
    NeuralFeatureMap(n_components=2, **FAST),
    RandomFeatureSearch(n_components=2, n_clusters=3, **FAST_SEARCH),
    DARTSFeatureSearch(n_components=2, n_clusters=3, warmup_epochs=1, **FAST_SEARCH),
    EvoFeatureSearch(n_components=2, n_clusters=3, population_size=2, **{**FAST_SEARCH, "max_trials": 4}),
    ParetoFeatureSearch(n_components=2, n_clusters=3, population_size=2, **{**FAST_SEARCH, "max_trials": 4}),
    ProgressiveFeatureSearch(n_components=2, n_clusters=3, beam_width=2, **{**FAST_SEARCH, "max_trials": 6}),
    RLFeatureSearch(n_components=2, n_clusters=3, controller_batch_size=2, **{**FAST_SEARCH, "max_trials": 5}),
    BayesFeatureSearch(n_components=2, n_clusters=3, n_initial=3, n_candidates=20, **{**FAST_SEARCH, "max_trials": 5}),
    RandomFeatureSearch(n_components=2, n_clusters=3, init=Architecture((Block("gated", 8),)),
                        **{**FAST_SEARCH, "max_trials": 4}),
    AutoSegmenter(n_components=2, n_clusters=3, max_trials=2, max_epochs=2, device="cpu", random_state=0,
                  search_params={"batch_size": 64, "search_space": FAST_SEARCH["search_space"]}),
]


# No check is skipped by us. scikit-learn itself skips its two array-API checks
# unless SCIPY_ARRAY_API=1 is set; sknas estimators take NumPy input only.
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
