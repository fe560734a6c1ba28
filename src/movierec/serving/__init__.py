"""A trained run in use: load it (`load_run`), ask it (`LoadedRun.recommend`,
`LoadedRun.recommend_history`, `LoadedRun.similar_items`; many users at once:
`LoadedRun.recommend_users`, `LoadedRun.recommend_histories`), serve it over HTTP
(`create_app`, `movierec serve`); what it refuses is in `errors`.

A thin layer over a run folder: it adds no model and trains nothing.
"""

from movierec.serving.errors import EmptyHistory, NoExplanation, NoFoldIn, UnknownItem, UnknownModel, UnknownUser
from movierec.serving.histories import BatchRecommendations, HistoryRecommendations
from movierec.serving.loaded import LoadedRun, load_run

__all__ = ["BatchRecommendations", "EmptyHistory", "HistoryRecommendations", "LoadedRun", "NoExplanation", "NoFoldIn",
           "UnknownItem", "UnknownModel", "UnknownUser", "load_run"]
