"""Label-free evaluation of candidate feature maps and their cost."""

from .cost import count_parameters, efficiency_report, measure_latency_ms
from .scores import (
    AUTO_SCORING,
    SCORINGS,
    CandidateScore,
    detect_collapse,
    neighbor_preservation,
    resolve_scoring,
    score_embedding,
    separability,
)
from .selection import SELECTION_SCORINGS, cluster_labels, consensus_scores, selection_scores

__all__ = [
    "AUTO_SCORING",
    "SCORINGS",
    "resolve_scoring",
    "CandidateScore",
    "score_embedding",
    "detect_collapse",
    "neighbor_preservation",
    "count_parameters",
    "measure_latency_ms",
    "efficiency_report",
    "SELECTION_SCORINGS",
    "cluster_labels",
    "consensus_scores",
    "selection_scores",
    "separability",
]
