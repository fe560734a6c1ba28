"""PyTorch models (FM, CFM, deep CFM, Mult-VAE, RecVAE), registered on import; torch stays inside this package."""

from movierec.models.registry import register
from movierec.models.torch.cfm import CFM, DeepCFM
from movierec.models.torch.fm import FM
from movierec.models.torch.recvae import RecVAE
from movierec.models.torch.vae import MultVAE

for _model in (FM, CFM, DeepCFM, MultVAE, RecVAE):
    register(_model)

__all__ = ["CFM", "DeepCFM", "FM", "MultVAE", "RecVAE"]
