"""sknas: neural architecture search as scikit-learn transformers.

Every search method is a transformer that learns a neural feature map for
tabular data, to put ahead of ``KMeans`` or ``GaussianMixture`` in a pipeline.
"""

from . import config
from .autosegment import AutoSegmenter
from .neural_map import NeuralFeatureMap
from .io.persistence import load, save
from .search.base import BaseFeatureSearch, SearchFailedError
from .search.bayes import BayesFeatureSearch
from .search.darts import DARTSFeatureSearch
from .search.evolution import EvoFeatureSearch
from .search.optuna import OptunaFeatureSearch
from .search.pareto import ParetoFeatureSearch
from .search.progressive import ProgressiveFeatureSearch
from .search.random import RandomFeatureSearch
from .search.reinforce import RLFeatureSearch
from .space import Architecture, Block, SearchSpace

__version__ = "0.1.0"

__all__ = [
    "Architecture", "AutoSegmenter", "BaseFeatureSearch", "BayesFeatureSearch", "Block", "DARTSFeatureSearch",
    "EvoFeatureSearch", "NeuralFeatureMap", "OptunaFeatureSearch", "ParetoFeatureSearch", "ProgressiveFeatureSearch",
    "RLFeatureSearch", "RandomFeatureSearch", "SearchFailedError", "SearchSpace", "__version__", "config", "load",
    "save",
]
