"""Training: the shared candidate trainer, the objectives, the skorch final net, devices."""

from .budget import resolve_epochs
from .device import resolve_device, seeded
from .net import FeatureNet, ObjectiveModel, make_final_net
from .objectives import OBJECTIVES, LossData, make_objective, resolve_objective
from .trainer import CandidateFailure, TrainResult, embed, evaluate_loss, train_candidate

__all__ = [
    "OBJECTIVES", "CandidateFailure", "FeatureNet", "LossData", "ObjectiveModel", "TrainResult", "embed",
    "evaluate_loss", "make_final_net", "make_objective", "resolve_device", "resolve_epochs",
    "resolve_objective", "seeded", "train_candidate",
]
