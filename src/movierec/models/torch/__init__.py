"""PyTorch models (FM, CFM, deep CFM), registered on import; torch stays inside this package."""

from movierec.models.registry import register
from movierec.models.torch.cfm import CFM, DeepCFM
from movierec.models.torch.fm import FM

for _model in (FM, CFM, DeepCFM):
    register(_model)

__all__ = ["CFM", "DeepCFM", "FM"]
