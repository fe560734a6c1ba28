"""Tuning: Optuna studies over the models' search spaces, a thin layer over the pipeline's fit."""

from movierec.tuning.study import ModelStudy, TuneSettings, tune

__all__ = ["ModelStudy", "TuneSettings", "tune"]
