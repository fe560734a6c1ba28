"""The Python API over a run folder (movierec.load_run): raw ids in and out, the run's own lists."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest

import movierec
from movierec.exceptions import ConfigError, DataError
from movierec.serving import EmptyHistory, NoExplanation, NoFoldIn, UnknownItem, UnknownModel, UnknownUser

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def loaded(run_dir):
    return movierec.load_run(run_dir)


def test_known_users_get_the_lists_the_run_wrote(loaded, run_dir):
    written = pd.read_csv(run_dir / "recommendations" / "ease.csv")
    users = written["user"].unique()[:25]
    ours = loaded.recommend(users, k=10, model="ease")
    for user in users:
        theirs = written[written["user"] == user]
        mine = ours[ours["user"] == user]
        assert mine["item"].tolist() == theirs["item"].tolist()
        np.testing.assert_allclose(mine["score"], theirs["score"], rtol=1e-5)
    assert {"rank", "item", "score", "title", "genre", "year"} <= set(ours.columns)
    assert ours["title"].notna().all()


def test_a_full_history_folds_in_to_the_same_list_for_ease(loaded, run_dir):
    """Refit on train+valid: EASE scores a user from train+valid, which is the user's full
    history here; posting it gives the same list."""
    user = loaded.users[7]
    row = loaded.known[7]
    history = loaded.items[row.indices].tolist()
    folded = loaded.recommend_history(history, k=10, model="ease")
    known = loaded.recommend([user], k=10, model="ease")
    assert folded.items["item"].tolist() == known["item"].tolist() and folded.unknown_items == []


def test_an_ensemble_of_fold_in_members_folds_in_to_its_own_list(loaded):
    user = loaded.users[7]
    history = loaded.items[loaded.known[7].indices].tolist()
    assert loaded.can_fold_in("ensemble") and not loaded.can_fold_in("rerank")
    folded = loaded.recommend_history(history, k=10, model="ensemble")
    known = loaded.recommend([user], k=10, model="ensemble")["item"].tolist()
    assert folded.items["item"].tolist() == known
    assert known != loaded.recommend([user], k=10, model="ease")["item"].tolist()  # a blend, not EASE alone


def test_similar_items_are_ease_s_row_of_b(loaded):
    """EASE's items like one item are those of the item's row of B, the item itself left out."""
    item = loaded.items[49]
    similar = loaded.similar_items(item, k=10, model="ease")
    row = loaded.model("ease").B_[49].astype(np.float64)  # the item's row of B, without recency weights here
    row[49] = -np.inf
    assert similar["item"].tolist() == loaded.items[np.argsort(-row, kind="stable")[:10]].tolist()
    np.testing.assert_allclose(similar["score"], np.sort(row)[::-1][:10], rtol=1e-6)
    assert item not in similar["item"].tolist() and similar["title"].notna().all()
    assert similar["item"].tolist() == loaded.recommend_history([item], k=10, model="ease").items["item"].tolist()
    assert loaded.similar_items(str(item), k=3, model="ease")["item"].tolist() == similar["item"].tolist()[:3]


def test_similar_items_refuse_an_unknown_item_and_a_model_without_fold_in(loaded):
    with pytest.raises(UnknownItem, match="item 'no-such-film' is not in this run's catalogue"):
        loaded.similar_items("no-such-film")
    with pytest.raises(NoFoldIn, match="'rerank' cannot score a new user"):
        loaded.similar_items(loaded.items[0], model="rerank")
    unlearned = loaded.items[np.flatnonzero(~loaded.model("ease").B_.any(axis=1))[0]]  # in no training history
    with pytest.raises(EmptyHistory, match=f"'ease' scores every item alike.*holds no weights for {unlearned}"):
        loaded.similar_items(unlearned, model="ease")
    popular = loaded.similar_items(loaded.items[0], k=5, model="pop")["item"].tolist()  # one list, the item left out
    assert popular == [item for item in loaded.recommend_history([], k=6, model="pop").items["item"]
                       if item != loaded.items[0]][:5]


def test_because_names_the_watched_items_adding_most_to_each_score(loaded):
    ease = loaded.model("ease")
    user = loaded.users[7]
    listed = loaded.recommend([user], k=5, model="ease", because=3)
    assert listed.drop(columns="because").equals(loaded.recommend([user], k=5, model="ease"))
    for item, because in zip(listed["item"], listed["because"]):
        column = loaded.item_index(item)
        watched = ease.history_[7].indices
        parts = ease.history_[7].data * ease.B_[watched, column]
        best = watched[np.argsort(-parts, kind="stable")[:3]]
        assert because == loaded.items[best[parts[np.argsort(-parts, kind="stable")[:3]] > 0]].tolist()
        assert 1 <= len(because) <= 3 and set(because) <= set(loaded.items[loaded.known[7].indices])
    history = [50, 181, 172, 1]
    told = loaded.recommend_history(history, k=5, model="ease", because=2).items
    assert told["item"].tolist() == loaded.recommend_history(history, k=5, model="ease").items["item"].tolist()
    assert all(0 < len(because) <= 2 and set(because) <= set(history) for because in told["because"])
    assert loaded.recommend_history(iter(history), k=5, model="ease", because=2).items.equals(told)  # read twice


def test_ids_in_any_collection_or_iterator(loaded):
    users = list(loaded.users[[3, 5]])
    listed = loaded.recommend(users, k=3)
    for kind in (tuple, iter, np.array, pd.Series):
        assert loaded.recommend(kind(users), k=3).equals(listed)
        assert loaded.recommend_users(kind(users), k=3)["item"].tolist() == listed["item"].tolist()
    assert set(loaded.recommend(set(users), k=3)["user"]) == set(users)  # a set: its own order
    assert loaded.recommend(users[0], k=3).equals(loaded.recommend(users[:1], k=3))  # one id
    assert loaded.recommend(np.array(users[0]), k=3).equals(loaded.recommend(users[:1], k=3))  # as a 0-d array
    with pytest.raises(UnknownUser):
        loaded.recommend(None, k=3)


def test_because_is_refused_where_scores_are_not_sums_over_watched_items(loaded):
    assert loaded.can_explain("ease") and not loaded.can_explain("ensemble") and not loaded.can_explain("pop")
    for name in ("ensemble", "rerank", "pop"):
        with pytest.raises(NoExplanation, match=f"model '{name}' cannot say which watched items.*can: ease"):
            loaded.recommend([loaded.users[0]], k=3, model=name, because=1)
    with pytest.raises(NoExplanation, match="'ensemble' cannot say"):
        loaded.recommend_history([50], k=3, model="ensemble", because=2)
    assert list(loaded.recommend([], k=3, model="ease", because=2).columns)[-1] == "because"  # no users, same columns
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="because must be a whole number"):
            loaded.recommend([loaded.users[0]], k=3, model="ease", because=bad)


def test_a_pickled_run_recommends_as_the_original(loaded):
    """A loaded run crosses to worker processes by pickle; its locks are remade there."""
    copy = pickle.loads(pickle.dumps(loaded))
    users = loaded.users[:5]
    pd.testing.assert_frame_equal(copy.recommend(users, k=5, model="ease"), loaded.recommend(users, k=5, model="ease"))
    assert copy._locks.keys() == loaded._locks.keys() and copy._load_lock is not loaded._load_lock


def test_unknown_items_are_reported_and_ignored(loaded):
    history = [loaded.items[0], "no-such-film", 99_999_999, loaded.items[1]]
    result = loaded.recommend_history(history, k=5)
    assert result.unknown_items == ["no-such-film", 99_999_999]
    assert not set(result.items["item"]) & {loaded.items[0], loaded.items[1]}, "the history is masked"
    unmasked = loaded.recommend_history(history, k=loaded.n_items, exclude_seen=False)
    assert {loaded.items[0], loaded.items[1]} <= set(unmasked.items["item"])


def test_ids_as_text_find_integer_ids(loaded):
    user = loaded.users[3]
    assert loaded.recommend([str(user)], k=3)["item"].tolist() == loaded.recommend([user], k=3)["item"].tolist()
    wide = next(str(u) for u in loaded.users if u > 9)
    for odd in (float(user) + 0.7, True, f"{wide[0]}_{wide[1:]}"):  # int() would take each of these
        with pytest.raises(UnknownUser):  # only an integer, or digits, is an integer id: nothing truncated
            loaded.recommend([odd], k=3)
    item = loaded.items[0]
    one = loaded.recommend_history(str(item), k=3)  # one id, not its characters
    assert one.unknown_items == [] and one.items["item"].tolist() == loaded.recommend_history([item], k=3).items[
        "item"].tolist()
    assert loaded.recommend_history([item, item + 0.5], k=3).unknown_items == [item + 0.5]


def test_errors_say_what_to_do(loaded):
    with pytest.raises(UnknownUser, match="not in this run"):
        loaded.recommend([123456789])
    with pytest.raises(UnknownModel, match="has ease, ensemble, pop, rerank"):
        loaded.recommend([loaded.users[0]], model="nope")
    with pytest.raises(NoFoldIn, match="'rerank' cannot score a new user"):
        loaded.recommend_history([loaded.items[0]], model="rerank")
    for k in (0, loaded.n_items + 1, 2.5):
        with pytest.raises(ConfigError, match="k must be a whole number between 1 and"):
            loaded.recommend([loaded.users[0]], k=k)


def test_a_history_of_unknown_items_is_refused_where_the_model_cannot_rank_it(loaded):
    """EASE scores an empty history all zero: a list by item index would pose as a recommendation."""
    with pytest.raises(EmptyHistory, match="unknown: no-such-film"):
        loaded.recommend_history(["no-such-film"], model="ease")
    popular = loaded.recommend_history([], k=3, model="pop")  # popularity needs no history
    assert len(popular.items) == 3 and popular.items["score"].is_monotonic_decreasing


def test_a_service_refuses_to_start_with_a_default_model_the_run_lacks(loaded):
    from movierec.serving.app import create_app

    with pytest.raises(UnknownModel, match="'fm' is not in this run"):
        create_app(loaded, default_model="fm")


def test_a_model_that_cannot_fold_in_still_serves_known_users(loaded, run_dir):
    written = pd.read_csv(run_dir / "recommendations" / "rerank.csv")
    user = written["user"].iloc[0]
    ours = loaded.recommend([user], k=10, model="rerank")
    assert ours["item"].tolist() == written[written["user"] == user]["item"].tolist()


def test_a_folder_without_saved_models_is_refused(tmp_path):
    with pytest.raises(DataError, match="not a run folder"):
        movierec.load_run(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        movierec.load_run(tmp_path / "missing")


def test_a_run_missing_its_best_model_or_holding_a_damaged_one_is_refused(run_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    best = json.loads((run_dir / "metrics.json").read_text())["best_model"]
    assert movierec.load_run(broken).best == best
    (broken / "models" / f"{best}.pkl").write_bytes(b"garbage\n")
    with pytest.raises(DataError, match=f"{best}.pkl: not a readable saved model"):
        movierec.load_run(broken).model()
    (broken / "models" / f"{best}.pkl").unlink()
    run = movierec.load_run(broken)
    for call in (run.model, lambda: run.recommend([run.users[0]], k=3),
                 lambda: run.recommend_history(run.items[:3].tolist(), k=3)):
        with pytest.raises(DataError, match=f"models/{best}.pkl, the run's best model .metrics.json., is missing"):
            call()
    other = next(name for name in run.models if name != best)
    assert len(run.recommend([run.users[0]], k=3, model=other)) == 3  # the models still there still serve


@pytest.mark.parametrize("text, message", [("{", r"not valid JSON \(line 1, column 2"),
                                           ("[1, 2]", "not a run's metrics"), (b"\xff\xfe{", "not UTF-8 text")])
def test_a_damaged_metrics_file_is_named_by_the_service_and_the_report(run_dir, tmp_path, text, message):
    from movierec.analysis.run_lists import RunFolder

    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "metrics.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    for read in (movierec.load_run, RunFolder.read):
        with pytest.raises(DataError, match=f"metrics.json: {message}"):
            read(broken)


def test_no_users_asked_for_give_the_columns_and_no_rows(loaded):
    empty = loaded.recommend([], k=3)
    assert empty.empty and list(empty.columns)[:4] == ["user", "rank", "item", "score"]


def test_a_table_of_histories_gets_each_user_the_list_its_history_alone_gets(loaded):
    """Batched fold-in (two users a batch here) equals one history at a time, per model."""
    rows = [("u1", item, time) for time, item in enumerate(loaded.items[loaded.known[7].indices][:30], 1)]
    rows += [("u2", 50, 1), ("u2", "tt-none", 2), ("u2", 181, 3), ("u3", "tt-none", 1), ("u4", 1, 1)]
    table = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    for model in ("ease", "ensemble"):
        result = loaded.recommend_histories(table, k=5, model=model, batch_size=2)
        for user, history in (("u1", [row[1] for row in rows[:30]]), ("u2", [50, 181]), ("u4", [1])):
            mine = result.lists[result.lists["user"] == user]
            alone = loaded.recommend_history(history, k=5, model=model).items
            assert mine["item"].tolist() == alone["item"].tolist() and mine["rank"].tolist() == [1, 2, 3, 4, 5]
            np.testing.assert_allclose(mine["score"], alone["score"], rtol=1e-5)
        assert result.unknown_items == ["tt-none"] and result.unknown_rows == 2
    assert loaded.recommend_histories(table, k=5, model="ease").unscored_users == ["u3"]  # no item it knows
    assert loaded.recommend_histories(table, k=5, model="pop").lists["user"].nunique() == 4  # pop lists everyone
    with pytest.raises(NoFoldIn, match="'rerank' cannot score a new user"):
        loaded.recommend_histories(table, model="rerank")
    empty = loaded.recommend_histories(table.iloc[:0], k=5, model="ease")
    assert empty.lists.empty and list(empty.lists.columns) == ["user", "rank", "item", "score"]


def test_every_known_user_at_once_gets_the_lists_the_run_wrote(loaded, run_dir):
    written = pd.read_csv(run_dir / "recommendations" / "ease.csv")
    every = loaded.recommend_users(k=10, model="ease", batch_size=100)
    assert list(every.columns) == ["user", "rank", "item", "score"] and every["user"].nunique() == loaded.n_users
    mine = every[every["user"].isin(written["user"])].sort_values(["user", "rank"]).reset_index(drop=True)
    theirs = written.sort_values(["user", "rank"]).reset_index(drop=True)
    assert mine["item"].tolist() == theirs["item"].tolist()
    np.testing.assert_allclose(mine["score"], theirs["score"], rtol=1e-5)
    some = loaded.recommend_users([str(loaded.users[5]), loaded.users[2]], k=3, model="ease")
    assert some["user"].tolist() == [loaded.users[5]] * 3 + [loaded.users[2]] * 3  # in the order asked, ids as held
    assert some["item"].tolist()[3:] == loaded.recommend([loaded.users[2]], k=3, model="ease")["item"].tolist()
    with pytest.raises(UnknownUser):
        loaded.recommend_users(["no-such-user"], model="ease")
