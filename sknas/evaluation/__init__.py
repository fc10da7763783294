"""Label-free evaluation of candidate feature maps and their cost."""

from .cost import count_parameters, efficiency_report, measure_latency_ms
from .scores import (
    SCORINGS,
    CandidateScore,
    detect_collapse,
    neighbor_preservation,
    score_embedding,
)
from .selection import SELECTION_SCORINGS, cluster_labels, consensus_scores, selection_scores, separability

__all__ = [
    "SCORINGS",
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
