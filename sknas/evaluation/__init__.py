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
from .judge import RESTATEMENT_NMI, column_restatement, cross_space_scores, discrete_columns
from .selection import MAX_LABELLED_ROWS, SELECTION_SCORINGS, cluster_labels, consensus_scores, selection_scores

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
    "MAX_LABELLED_ROWS",
    "RESTATEMENT_NMI",
    "column_restatement",
    "cross_space_scores",
    "discrete_columns",
    "SELECTION_SCORINGS",
    "cluster_labels",
    "consensus_scores",
    "selection_scores",
    "separability",
]
