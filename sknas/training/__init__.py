"""Training: the shared candidate trainer, the objectives, the skorch final net, devices."""

from .budget import resolve_epochs
from .device import SEED_MAX, as_float32_rows, encoder_device, resolve_device, seeded
from .net import FeatureNet, ObjectiveModel, make_final_net
from .objectives import OBJECTIVES, LossData, make_objective, resolve_objective
from .trainer import GRAD_CLIP, WEIGHT_DECAY, CandidateFailure, TrainResult, embed, evaluate_loss, train_candidate

__all__ = [
    "GRAD_CLIP", "OBJECTIVES", "SEED_MAX", "WEIGHT_DECAY", "CandidateFailure", "FeatureNet", "LossData",
    "ObjectiveModel", "TrainResult", "as_float32_rows", "embed", "encoder_device", "evaluate_loss",
    "make_final_net", "make_objective", "resolve_device", "resolve_epochs", "resolve_objective", "seeded",
    "train_candidate",
]
