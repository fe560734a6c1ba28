"""PyTorch models (FM, CFM, deep CFM, Mult-VAE, RecVAE); torch stays inside this package."""

from movierec.models.torch.cfm import CFM, DeepCFM
from movierec.models.torch.fm import FM
from movierec.models.torch.recvae import RecVAE
from movierec.models.torch.vae import MultVAE

__all__ = ["CFM", "DeepCFM", "FM", "MultVAE", "RecVAE"]
