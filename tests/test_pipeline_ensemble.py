"""`movierec run --models a,b --ensemble`: the blend is tuned on valid, refit with its weights."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from movierec.cli import app
from movierec.config import RunConfig, config_from_dict
from movierec.exceptions import ConfigError
from movierec.pipeline import run
from movierec.split import SplitSpec
from tests.synthetic import quiet


def _config(data, out, **changes) -> RunConfig:
    settings = dict(data=str(data), out=str(out), models=("pop", "ease"), ensemble=True,
                    params={"ease": {"l2": [1.0, 10.0]}, "ensemble": {"n_trials": 6}},
                    split=SplitSpec("competition", 2, 0.1, 0), save_models=False)
    return RunConfig(**(settings | changes))


def test_ensemble_runs_after_its_members_with_their_tuned_params(planted_csv, tmp_path):
    result = run(_config(planted_csv, tmp_path / "run"), log=quiet)
    assert list(result.results) == ["pop", "ease", "ensemble"]
    ensemble = result.results["ensemble"]
    assert ensemble.params["members"] == ("pop", "ease") and ensemble.params["n_trials"] == 6
    assert ensemble.params["member_params"]["ease"] == result.results["ease"].params
    assert set(ensemble.refit_params["weights"]) == {"pop", "ease"}
    best_member = max(result.results[m].valid["recall@10"] for m in ("pop", "ease"))
    assert ensemble.valid["recall@10"] >= best_member - 1e-9  # tuned on valid: never below its best member
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "ensemble" in metrics["models"] and (tmp_path / "run" / "recommendations" / "ensemble.csv").is_file()


def test_ensemble_reuses_the_members_validated_alone(planted_csv, tmp_path, monkeypatch):
    """EASE: its grid and the refit alone; the ensemble reuses both the fit chosen on
    validation and the refit."""
    from movierec.models.ease import EASE

    fits = []
    real = EASE.fit
    monkeypatch.setattr(EASE, "fit", lambda self, X, **kwargs: fits.append(self.get_params()) or real(self, X, **kwargs))
    result = run(_config(planted_csv, tmp_path / "run"), log=quiet)
    ease = result.results["ease"]
    assert fits == [EASE(**trial["params"]).get_params() for trial in ease.trials] + [ease.refit_params]


def test_ensemble_needs_two_models_and_round_trips_in_toml(planted_csv, tmp_path):
    with pytest.raises(ConfigError, match="at least two"):
        run(_config(planted_csv, tmp_path / "run", models=("ease",)), log=quiet)
    config = _config(planted_csv, tmp_path / "run")
    import tomllib

    assert config_from_dict(tomllib.loads(config.to_toml())).ensemble is True


def test_cli_flag(planted_csv, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--data", str(planted_csv), "--models", "pop,ease", "--ensemble",
                                      "--no-refit", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "ensemble" in json.loads((out / "metrics.json").read_text())["models"]


def test_rerank_runs_through_the_pipeline(planted_csv, tmp_path):
    params = {"ease": {"l2": 10.0}, "rerank": {"iterations": 20, "n_candidates": 20, "thread_count": 1,
                                                "eval_fraction": 0.0, "n_folds": 1, "label_source": "inner", "member_params": {"ease": {"l2": 10.0}}}}
    result = run(_config(planted_csv, tmp_path / "run", models=("ease", "rerank"), ensemble=False, params=params),
                 log=quiet)
    rerank = result.results["rerank"]
    assert rerank.test["recall@10"] > 0 and rerank.test["users"] == result.results["ease"].test["users"]


def test_a_reranker_learning_from_valid_is_validated_out_of_fold(planted_csv, tmp_path):
    """Validation reads score_out_of_fold: a reranker trained on the validation labels is
    measured by boosters that never saw each user, not by its in-sample mean."""
    from movierec.evaluate import evaluate
    from movierec.pipeline import Fits, run_model
    from movierec.split import load_encoded

    params = {"rerank": {"iterations": 20, "n_candidates": 20, "thread_count": 1, "n_folds": 3,
                         "member_params": {"ease": {"l2": 10.0}}}}
    config = _config(planted_csv, tmp_path / "run", models=("rerank",), ensemble=False, params=params)
    data = load_encoded(data=config.data, data_dir=None, split_dir=None, spec=config.split)
    fits = Fits()
    result = run_model("rerank", data, config, quiet, fits=fits, keep=True)
    model = fits.validated["rerank"]
    assert model.labelled_by_ == "valid"
    measured = {scorer: evaluate(getattr(model, scorer), data.valid, exclude=data.train)["ndcg@10"]
                for scorer in ("score", "score_out_of_fold")}
    assert result.valid["ndcg@10"] == pytest.approx(measured["score_out_of_fold"])
    assert measured["score_out_of_fold"] != pytest.approx(measured["score"])
