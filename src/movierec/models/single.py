"""The single models: those that learn from the interactions directly, with no members.

A new model is added here, to `SINGLE_MODELS`: the registry, the composite models'
members and the contract test all read this one table, so a model cannot be left out
of any of them.
"""

from movierec.models.base import Recommender
from movierec.models.dlae import DLAE
from movierec.models.ease import EASE
from movierec.models.popularity import Popularity
from movierec.models.torch import CFM, FM, IALS, BERT4Rec, DeepCFM, MultVAE, RecVAE, SASRec
from movierec.models.user_ease import HybridEASE, UserEASE

SINGLE_MODELS: dict[str, type[Recommender]] = {
    model.name: model for model in (Popularity, EASE, DLAE, UserEASE, HybridEASE, IALS, FM, CFM, DeepCFM, MultVAE,
                                    RecVAE, SASRec, BERT4Rec)
}
