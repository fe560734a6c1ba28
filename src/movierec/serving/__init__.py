"""A trained run in use: load it (`load_run`), ask it (`LoadedRun.recommend`,
`LoadedRun.recommend_history`, `LoadedRun.similar_items`), serve it over HTTP (`create_app`, `movierec serve`).

A thin layer over a run folder: it adds no model and trains nothing.
"""

from movierec.serving.loaded import (
    EmptyHistory,
    HistoryRecommendations,
    LoadedRun,
    NoExplanation,
    NoFoldIn,
    UnknownItem,
    UnknownModel,
    UnknownUser,
    load_run,
)

__all__ = ["EmptyHistory", "HistoryRecommendations", "LoadedRun", "NoExplanation", "NoFoldIn", "UnknownItem",
           "UnknownModel", "UnknownUser", "load_run"]
