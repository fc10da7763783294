"""The search space: ops, Architecture, builder, supernet and search primitives."""

from .architecture import Architecture, Block
from .builder import FeatureNetwork, build_network
from .ops import ACTIVATIONS, NORMS, OPS
from .search_space import SearchSpace, genotype_distance, reencode
from .supernet import SuperNet

__all__ = [
    "ACTIVATIONS", "NORMS", "OPS", "Architecture", "Block", "FeatureNetwork", "SearchSpace", "SuperNet",
    "build_network", "genotype_distance", "reencode",
]
