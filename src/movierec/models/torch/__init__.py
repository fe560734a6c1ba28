"""PyTorch models (iALS, FM, CFM, deep CFM, Mult-VAE, RecVAE, SASRec, BERT4Rec); torch stays inside this package."""

from movierec.models.torch.bert4rec import BERT4Rec
from movierec.models.torch.cfm import CFM, DeepCFM
from movierec.models.torch.fm import FM
from movierec.models.torch.ials import IALS
from movierec.models.torch.recvae import RecVAE
from movierec.models.torch.sasrec import SASRec
from movierec.models.torch.vae import MultVAE

__all__ = ["BERT4Rec", "CFM", "DeepCFM", "FM", "IALS", "MultVAE", "RecVAE", "SASRec"]
