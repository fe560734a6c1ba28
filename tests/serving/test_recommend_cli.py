"""`movierec recommend`: a table for people, JSON for scripts, one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from movierec.cli import app

pytestmark = pytest.mark.realdata
runner = CliRunner()


def test_a_known_user_as_json_equals_the_run_s_list(run_dir):
    written = pd.read_csv(run_dir / "recommendations" / "ease.csv")
    user = int(written["user"].iloc[0])
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), "--user", f" {user} ", "--model", "ease", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [entry["item"] for entry in payload["items"]] == written[written["user"] == user]["item"].tolist()
    assert payload["model"] == "ease" and {"rank", "item", "score", "title", "year"} <= set(payload["items"][0])
    assert payload["user"] == user  # the id as the run holds it, as the service answers


def test_a_history_as_a_table_names_titles_and_unknown_items(run_dir):
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), "--history", "1,2,3,zzz", "--k", "5"])
    assert result.exit_code == 0, result.output
    assert "title" in result.output and "rank" in result.output
    assert "not in the run's catalogue (ignored): zzz" in result.output
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), "--history", "1,2,999999,zzz", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["unknown_items"] == [999999, "zzz"]  # integer ids as the service reports them


def test_similar_items_are_ease_s_row_of_b_as_json(run_dir, loaded_ease):
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), "--similar-to", " 50", "--model", "ease",
                                 "--k", "4", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["item"] == 50 and payload["model"] == "ease"  # the id as the run holds it
    assert [entry["item"] for entry in payload["items"]] == loaded_ease.similar_items(50, k=4, model="ease")[
        "item"].tolist()
    table = runner.invoke(app, ["recommend", "--run", str(run_dir), "--similar-to", "50", "--k", "3"])
    assert table.exit_code == 0 and "someone who watched item 50" in table.output


def test_because_shows_titles_in_the_table_and_ids_in_json(run_dir, loaded_ease):
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), "--history", "50,181", "--model", "ease",
                                 "--k", "2", "--because", "1", "--json"])
    assert result.exit_code == 0, result.output
    expected = loaded_ease.recommend_history([50, 181], k=2, model="ease", because=1).items["because"].tolist()
    assert [entry["because"] for entry in json.loads(result.output)["items"]] == expected
    table = runner.invoke(app, ["recommend", "--run", str(run_dir), "--history", "50", "--model", "ease",
                                "--because", "1"])
    words = table.output.split()  # the table wraps its cells
    assert table.exit_code == 0 and "because" in words and {"Star", "Wars"} <= set(words)  # item 50, the one reason


@pytest.fixture(scope="module")
def loaded_ease(run_dir):
    import movierec

    return movierec.load_run(run_dir)


@pytest.mark.parametrize("options, message", [
    ([], "give one of --user ID, --history ID,ID,..., --similar-to ID, --users all|FILE or --histories FILE"),
    (["--user", "1", "--history", "2"], "give one of --user ID, --history"),
    (["--history", "2", "--similar-to", "2"], "give one of --user ID, --history"),
    (["--similar-to", "no-such-film"], "item 'no-such-film' is not in this run's catalogue"),
    (["--similar-to", "50", "--model", "rerank"], "'rerank' cannot score a new user"),
    (["--similar-to", "50", "--because", "1"], "--because explains the lists of --user and --history"),
    (["--user", "1", "--because", "2", "--model", "pop"], "'pop' cannot say which watched items"),
    (["--user", "123456789"], "user '123456789' is not in this run"),
    (["--history", "1", "--model", "rerank"], "'rerank' cannot score a new user"),
    (["--user", "1", "--k", "0"], "k must be a whole number between 1 and"),
])
def test_bad_requests_are_one_line(run_dir, options, message):
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), *options])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_histories_of_a_file_go_to_a_csv_with_notes_on_what_was_left_out(run_dir, loaded_ease, tmp_path):
    histories = tmp_path / "new_users.csv"
    histories.write_text("user,item,timestamp\nanna,50,1\nanna,tt-x,2\nanna,181,3\nbo,1,1\nbo,2,2\ncy,tt-x,1\n")
    out = tmp_path / "lists.csv"
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), "--histories", str(histories), "--out", str(out),
                                 "--model", "ease", "--k", "4"])
    assert result.exit_code == 0, result.output
    lists = pd.read_csv(out)
    assert list(lists.columns) == ["user", "rank", "item", "score"] and set(lists["user"]) == {"anna", "bo"}
    for user, history in (("anna", [50, 181]), ("bo", [1, 2])):
        expected = loaded_ease.recommend_history(history, k=4, model="ease").items["item"].tolist()
        assert lists[lists["user"] == user]["item"].tolist() == expected
    assert "2 rows name 1 items not in the run's catalogue (left out): tt-x" in result.output
    assert "1 users have no list: ease scores every item alike for their histories" in result.output
    assert "ease: top 4 for 2 users" in result.output


@pytest.mark.parametrize("extra, message", [
    ([], "--users or --histories go with --out FILE"),
    (["--out", "x.csv", "--json"], "--because and --json show one list"),
    (["--out", "x.csv", "--user", "1"], "give one of --user ID"),
])
def test_histories_options_that_do_not_fit_are_one_error(run_dir, tmp_path, extra, message):
    histories = tmp_path / "h.csv"
    histories.write_text("user,item\na,50\n")
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), "--histories", str(histories), *extra])
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_malformed_histories_file_is_named_with_its_line(run_dir, tmp_path):
    histories = tmp_path / "h.csv"
    histories.write_text("user,item\na,50\nb,\n")
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), "--histories", str(histories),
                                 "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "h.csv, line 3" in result.output, result.output
    assert not (tmp_path / "o.csv").exists()


def test_known_users_of_a_file_or_all_of_them_go_to_a_csv(run_dir, loaded_ease, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text(f"User\n{loaded_ease.users[3]}\nnobody\n {loaded_ease.users[1]}\n")
    out = tmp_path / "lists.csv"
    result = runner.invoke(app, ["recommend", "--run", str(run_dir), "--users", str(users), "--out", str(out),
                                 "--model", "ease", "--k", "3"])
    assert result.exit_code == 0, result.output
    assert "1 users of users.csv are not in the run (left out): nobody" in result.output
    lists = pd.read_csv(out)
    assert lists["user"].tolist() == [loaded_ease.users[3]] * 3 + [loaded_ease.users[1]] * 3
    assert lists["item"].tolist()[:3] == loaded_ease.recommend([loaded_ease.users[3]], k=3, model="ease")["item"].tolist()
    every = runner.invoke(app, ["recommend", "--run", str(run_dir), "--users", "all", "--out", str(out), "--k", "2"])
    assert every.exit_code == 0 and pd.read_csv(out)["user"].nunique() == loaded_ease.n_users, every.output
