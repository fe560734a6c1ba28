import json
import math

import pandas as pd
import pytest

from movierec.config import RunConfig
from movierec.exceptions import ConfigError, SplitError
from movierec.models.space import LineSearch
from movierec.pipeline import default_members_notes, param_grid, run, search_grid
from movierec.split import SplitSpec
from tests.synthetic import quiet, write_split_without_valid


def config_for(data, out, **changes) -> RunConfig:
    base = RunConfig(data=str(data), out=str(out), models=("pop", "ease"),
                     params={"ease": {"l2": [1.0, 10.0]}}, split=SplitSpec("competition", 2, 0.1, 0))
    return RunConfig(**{**base.__dict__, **changes})


def test_run_writes_the_run_folder(planted_csv, tmp_path):
    out = tmp_path / "run"
    result = run(config_for(planted_csv, out), log=quiet)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"pop", "ease"}
    assert metrics["best_model"] == result.best == "ease"
    assert metrics["models"]["ease"]["test"]["recall@10"] > metrics["models"]["pop"]["test"]["recall@10"]
    submission = pd.read_csv(out / "submission.csv")
    assert list(submission.columns) == ["user", "item"]
    assert submission.groupby("user").size().eq(10).all()
    assert submission["user"].str.startswith("u").all()  # raw ids leave the library
    recs = pd.read_csv(out / "recommendations" / "ease.csv")
    assert list(recs.columns) == ["user", "item", "rank", "score"]
    assert (out / "config.toml").is_file() and (out / "models" / "ease.pkl").is_file()
    assert (out / "split.sha256").read_text().strip() == result.split_checksum


def test_a_run_replaces_the_earlier_run_in_its_folder_and_nothing_else(planted_csv, tmp_path):
    """A model of the first run, not trained by the second, must not stay to be served."""
    out = tmp_path / "run"
    run(config_for(planted_csv, out), log=quiet)
    (out / "notes.txt").write_text("the user's own file")
    lines = []
    run(config_for(planted_csv, out, models=("pop",)), log=lines.append)
    assert any("held an earlier run" in line for line in lines)
    assert sorted(p.name for p in (out / "models").iterdir()) == ["pop.pkl"]
    assert sorted(p.name for p in (out / "recommendations").iterdir()) == ["pop.csv"]
    assert (out / "notes.txt").read_text() == "the user's own file"


def test_a_run_that_fails_leaves_the_earlier_run_whole(planted_csv, tmp_path):
    """The run is written aside and published only once it has finished."""
    out = tmp_path / "run"
    run(config_for(planted_csv, out), log=quiet)
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))

    def stopped(folder):  # the whole run is written by now, not yet published
        assert (folder / "metrics.json").is_file() and (folder / "models" / "pop.pkl").is_file()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(config_for(planted_csv, out, models=("pop",)), log=quiet, finish=stopped)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    with pytest.raises(KeyboardInterrupt):
        run(config_for(planted_csv, tmp_path / "new", models=("pop",)), log=quiet, finish=stopped)
    assert not (tmp_path / "new").exists()
    with pytest.raises(ConfigError, match="at least two models"):  # refused before any training
        run(config_for(planted_csv, out, models=("pop",), ensemble=True), log=quiet)


def test_every_models_settings_are_checked_before_the_first_model_trains(planted_csv, tmp_path):
    logged = []
    for params, message in (({"ease": {"l2": [1.0, -5.0]}}, "l2"), ({"fm": {"device": "tpu"}}, "fm: device 'tpu'"),
                             ({"rerank": {"members": "ease,fm", "member_params": {"fm": {"device": "tpu"}}}},
                              "rerank member 'fm': fm: device 'tpu'"),
                             ({"ensemble": {"method": "nosuch"}}, "nosuch")):
        models = ("pop", *(name for name in params if name != "ensemble"), *(("ease",) if "ensemble" in params else ()))
        with pytest.raises(ConfigError, match=message):
            run(config_for(planted_csv, tmp_path / "run", models=models, params=params, ensemble="ensemble" in params),
                log=logged.append)
    assert not any(line.startswith("pop") for line in logged)  # nothing trained
    assert not (tmp_path / "run").exists()


def test_a_split_folder_without_validation_items_is_refused_before_training(tmp_path):
    split_dir = write_split_without_valid(tmp_path / "split")
    with pytest.raises(SplitError, match="the split holds no valid items"):
        run(RunConfig(data=None, split_dir=str(split_dir), out=str(tmp_path / "run"), models=("pop",), k=2),
            log=quiet)
    assert not (tmp_path / "run").exists()


def test_the_log_names_the_parameters_validation_chose(planted_csv, tmp_path):
    logged = []
    result = run(config_for(planted_csv, tmp_path / "run", models=("ease",)), log=logged.append)
    chosen = [line for line in logged if line.startswith("ease: chose ")]
    assert len(chosen) == 1 and str(result.results["ease"].params["l2"]) in chosen[0]


def test_the_log_notes_a_table_for_a_model_the_run_does_not_train(planted_csv, tmp_path):
    logged = []
    run(config_for(planted_csv, tmp_path / "run", models=("pop",)), log=logged.append)  # its [models.ease] unused
    assert "note: [models.ease] in the config is not used: ease is not among the models run (pop)" in "\n".join(logged)


def test_a_composite_model_left_to_its_default_members_is_noted():
    notes = default_members_notes(RunConfig(models=("pop", "ensemble", "rerank"),
                                            params={"rerank": {"members": ["pop", "ease"]}}))
    assert len(notes) == 1 and notes[0].startswith("ensemble combines its default members (ease, pop)")


def test_a_folder_with_its_own_models_folder_is_refused_not_emptied(planted_csv, tmp_path):
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "mine.bin").write_bytes(b"keep")
    with pytest.raises(ConfigError, match="not a movierec run folder"):
        run(config_for(planted_csv, project), log=quiet)
    assert (project / "models" / "mine.bin").read_bytes() == b"keep"


def test_the_config_a_run_keeps_reruns_from_any_folder(planted_csv, tmp_path, monkeypatch):
    """Paths typed relative to where the run started are kept absolute; a data set name stays a name."""
    from movierec.config import tomllib

    monkeypatch.chdir(planted_csv.parent)
    run(config_for(planted_csv.name, "run"), log=quiet)
    stored = tomllib.loads((planted_csv.parent / "run" / "config.toml").read_text())["run"]
    assert stored["data"] == str(planted_csv.absolute()) and stored["out"] == str((planted_csv.parent / "run").absolute())
    assert RunConfig(data="ml-100k").with_absolute_paths().data == "ml-100k"


def test_recommendations_exclude_known_items(planted_csv, tmp_path):
    out = tmp_path / "run"
    run(config_for(planted_csv, out), log=quiet)
    recs = pd.read_csv(out / "recommendations" / "ease.csv")
    known = pd.read_csv(planted_csv)
    merged = recs.merge(known, on=["user", "item"])
    # every recommended (user, item) that the user has interacted with must be a test item
    from movierec.split import make_split

    split = make_split(known, SplitSpec("competition", 2, 0.1, 0))
    seen = pd.concat([split.train, split.valid])[["user", "item"]]
    assert merged.merge(seen, on=["user", "item"]).empty


def test_same_seed_same_metrics_and_different_seed_other_split(planted_csv, tmp_path):
    first = run(config_for(planted_csv, tmp_path / "a"), log=quiet)
    again = run(config_for(planted_csv, tmp_path / "b"), log=quiet)
    other = run(config_for(planted_csv, tmp_path / "c", split=SplitSpec("competition", 2, 0.1, 1)), log=quiet)
    assert first.split_checksum == again.split_checksum != other.split_checksum
    assert first.results["ease"].test == again.results["ease"].test


def test_no_refit_tests_the_train_fitted_model(planted_csv, tmp_path):
    refit = run(config_for(planted_csv, tmp_path / "r"), log=quiet)
    no_refit = run(config_for(planted_csv, tmp_path / "n", refit=False), log=quiet)
    assert refit.results["ease"].valid == no_refit.results["ease"].valid
    assert json.loads((tmp_path / "n" / "metrics.json").read_text())["setting"] == "no-refit"


def test_no_refit_tests_a_sequence_model_on_its_sequences_continued_through_valid(planted_csv, tmp_path):
    from movierec.evaluate import evaluate
    from movierec.models.base import Recommender
    from movierec.split import load_encoded

    spec = SplitSpec("temporal", 2, 0.0, 0)
    config = config_for(planted_csv, tmp_path / "n", refit=False, models=("sasrec",), split=spec,
                        params={"sasrec": {"dim": 16, "epochs": 3, "device": "cpu"}})
    result = run(config, log=quiet).results["sasrec"]
    data = load_encoded(data=str(planted_csv), data_dir=None, split_dir=None, spec=spec)
    saved = Recommender.load(tmp_path / "n" / "models" / "sasrec.pkl")
    assert saved.X_.nnz == data.train_valid.nnz  # the model known users are served from: train+valid
    tested = evaluate(saved.score, data.test, exclude=data.train_valid, k=10)
    assert tested.metrics == result.test
    from_train = evaluate(lambda users: saved.score_history(data.train[users], data.timestamps("train")[users]),
                          data.test, exclude=data.train_valid, k=10)
    assert from_train.metrics != result.test  # the validation items changed what comes next


def test_no_refit_continues_the_sequence_members_of_a_composite_only(planted_csv, tmp_path):
    from movierec.models.base import Recommender
    from movierec.split import load_encoded

    spec = SplitSpec("temporal", 2, 0.0, 0)
    config = config_for(planted_csv, tmp_path / "n", refit=False, models=("pop", "sasrec"), split=spec,
                        ensemble=True, params={"sasrec": {"dim": 16, "epochs": 3, "device": "cpu"}})
    run(config, log=quiet)
    data = load_encoded(data=str(planted_csv), data_dir=None, split_dir=None, spec=spec)
    members = Recommender.load(tmp_path / "n" / "models" / "ensemble.pkl").members_
    assert members["sasrec"].X_.nnz == data.train_valid.nnz
    assert members["pop"].X_.nnz == data.train.nnz


def test_param_grid_uses_config_over_model_grid():
    config = RunConfig(params={"ease": {"l2": 5.0}})
    assert param_grid("ease", config) == [{"l2": 5.0, "recency_decay": 1.0}, {"l2": 5.0, "recency_decay": 0.9}]
    config = RunConfig(params={"ease": {"l2": [5.0, 6.0], "recency_decay": 1.0}})
    assert param_grid("ease", config) == [{"l2": 5.0, "recency_decay": 1.0}, {"l2": 6.0, "recency_decay": 1.0}]
    assert len(param_grid("ease", RunConfig())) > 1


def test_a_list_of_member_names_is_one_set_of_members_and_a_list_of_lists_a_grid():
    """members = ["ease", "pop"] (the note's own advice) names both members of one model;
    a grid over member sets is a list of lists, as a run's config.toml writes one point."""
    one = param_grid("ensemble", RunConfig(params={"ensemble": {"members": ["ease", "pop"]}}))
    assert [point["members"] for point in one] == [("ease", "pop")]
    grid = param_grid("rerank", RunConfig(params={"rerank": {"members": [["ease"], ["ease", "pop"]]}}))
    assert [point["members"] for point in grid] == [("ease",), ("ease", "pop")]
    commas = param_grid("rerank", RunConfig(params={"rerank": {"members": ["ease,pop", "ease"]}}))
    assert [point["members"] for point in commas] == ["ease,pop", "ease"]  # comma strings: a grid, as before
    from movierec.tuning.search import space_of

    space, fixed = space_of("rerank", RunConfig(params={"rerank": {"members": ["ease", "pop"]}}))
    assert fixed["members"] == ("ease", "pop") and "members" not in space


def test_ease_searches_l2_by_golden_section_unless_the_config_gives_it(planted_csv, tmp_path):
    searched = run(config_for(planted_csv, tmp_path / "a", models=("ease",), params={}), log=quiet).results["ease"]
    probed = [trial["params"]["l2"] for trial in searched.trials]
    assert probed[0] == 300.0 and 1 < len(set(probed)) <= 5  # at most five inverses
    decays = [trial["params"]["recency_decay"] for trial in searched.trials]
    assert decays[:2] == [1.0, 0.9] and len(set(decays[2:-1])) == 1  # the grid at 300, the search for its best
    assert len(probed) == len(set(probed)) + 2  # and the other decay once more, at the l2 found
    assert searched.valid["recall@10"] == max(trial["recall@10"] for trial in searched.trials)
    given = run(config_for(planted_csv, tmp_path / "b", models=("ease",)), log=quiet).results["ease"]
    assert {trial["params"]["l2"] for trial in given.trials} == {1.0, 10.0}


def test_validation_scores_a_seeded_sample_of_users_the_same_for_every_candidate(planted_csv, tmp_path):
    everyone = run(config_for(planted_csv, tmp_path / "a", valid_users=0), log=quiet).results["ease"]
    n_valid = int(everyone.valid["users"])
    sampled = [run(config_for(planted_csv, tmp_path / name, valid_users=n_valid // 2), log=quiet).results["ease"]
               for name in ("b", "c")]
    assert {trial["users"] for trial in sampled[0].trials} == {n_valid // 2}
    assert sampled[0].trials == sampled[1].trials  # seeded: the same users, the same figures
    assert sampled[0].test["users"] == everyone.test["users"]  # the test is every test user's
    with pytest.raises(ConfigError, match="valid_users"):
        config_for(planted_csv, tmp_path / "d", valid_users=-1)


def test_the_grid_beside_a_line_search_catches_a_point_that_wins_elsewhere():
    """Point "b" loses at the start and wins at the optimum the search finds for "a"."""
    calls = []

    def validate(params):
        calls.append(params)
        return -abs(math.log(params["l2"] / 100.0)) + (0.5 if params["p"] == "b" and params["l2"] < 200 else 0.0)

    search = LineSearch("l2", start=1000.0, low=1.0, high=10_000.0, max_fits=5)
    search_grid(validate, [{"p": "a"}, {"p": "b"}], search)
    assert [c["p"] for c in calls[:2]] == ["a", "b"] and {c["p"] for c in calls[2:-1]} == {"a"}
    assert calls[-1]["p"] == "b" and calls[-1]["l2"] < 200  # where the search ended for "a"
    assert len(calls) == 2 * 2 + search.max_fits - 2


ANCHORS = {  # ../shared/anchors.md, reference dense EASE, Recall@10 and NDCG@10
    ("mixed", False): (0.2957, 0.3102),
    ("mixed", True): (0.3179, 0.3331),
    ("random", False): (0.3472, 0.3374),
    ("random", True): (0.3645, 0.3539),
}


@pytest.mark.realdata
@pytest.mark.parametrize("split_name,refit", list(ANCHORS))
def test_ease_reaches_the_anchor_figures(splits_dir, tmp_path, split_name, refit):
    config = RunConfig(data=None, split_dir=str(splits_dir / f"ml100k-{split_name}-s0"),
                       models=("ease",), refit=refit, out=str(tmp_path), save_models=False)
    result = run(config, log=quiet).results["ease"]
    recall, ndcg = ANCHORS[(split_name, refit)]
    assert (result.test["recall@10"], result.test["ndcg@10"]) == pytest.approx((recall, ndcg), abs=0.0005)


def test_submission_all_lists_every_user_from_all_data(planted_csv, tmp_path):
    out = tmp_path / "run"
    run(config_for(planted_csv, out, submission="all"), log=quiet)
    submission = pd.read_csv(out / "submission.csv")
    known = pd.read_csv(planted_csv)
    assert submission["user"].nunique() == known["user"].nunique()
    assert submission.groupby("user").size().eq(10).all()
    assert submission.merge(known, on=["user", "item"]).empty  # nothing the user already watched


def test_models_that_take_timestamps_get_the_ones_of_their_history(planted_csv, tmp_path, monkeypatch):
    from movierec.models import registry
    from movierec.models.popularity import Popularity

    seen_times = []

    class TimedPopularity(Popularity):
        name = "timed-pop"

        def fit(self, X, *, features=None, valid=None, timestamps=None):
            assert timestamps is not None and timestamps.nnz == X.nnz
            assert (timestamps.indices == X.indices).all()
            seen_times.append(timestamps.data.min())
            return super().fit(X, features=features, valid=valid)

    monkeypatch.setitem(registry.MODELS, "timed-pop", TimedPopularity)
    run(config_for(planted_csv, tmp_path / "run", models=("timed-pop",), submission="all", save_models=False), log=quiet)
    assert len(seen_times) == 3  # tuning on train, refit on train+valid, final on everything
    assert min(seen_times) >= 1_000_000  # real timestamps, not zeros


def test_a_config_table_for_no_model_is_refused_before_any_work(planted_csv, tmp_path):
    with pytest.raises(ConfigError, match=r"\[models.NAME\] in the config: unknown model\(s\) 'eas'"):
        run(config_for(planted_csv, tmp_path / "run", params={"eas": {"l2": 1.0}}), log=quiet)
    assert not (tmp_path / "run").exists()


def test_an_out_that_is_a_file_is_refused_before_the_data_is_read(tmp_path):
    out = tmp_path / "diag.json"
    out.write_text("{}")
    with pytest.raises(ConfigError, match="is a file"):
        run(config_for(tmp_path / "no-such-data.csv", out), log=quiet)
