import pandas as pd
import pytest

from movierec.data.readers import read_dataset
from movierec.data.readers.recbole import read_recbole
from movierec.export.recbole import export_recbole
from movierec.split import SplitSpec, make_split


@pytest.mark.realdata
def test_export_reads_back_as_the_same_split_with_side_files(data_dir, tmp_path):
    dataset = read_dataset(data_dir / "ml-100k")
    split = make_split(dataset.interactions, SplitSpec("competition"))
    files = export_recbole(split, tmp_path, "ml100k", dataset)
    assert [f.name for f in files] == [
        "ml100k.train.inter", "ml100k.valid.inter", "ml100k.test.inter", "ml100k.item", "ml100k.user",
    ]
    for part, frame in split.parts().items():
        back = read_recbole(tmp_path / "ml100k" / f"ml100k.{part}.inter").interactions
        key = ["user", "item", "timestamp"]
        pd.testing.assert_frame_equal(
            back.sort_values(key).reset_index(drop=True), frame[key].sort_values(key).reset_index(drop=True)
        )
    header = (tmp_path / "ml100k" / "ml100k.item").read_text().splitlines()[0].split("\t")
    assert header == ["item_id:token", "genre:token_seq", "year:token"]
    again = export_recbole(split, tmp_path, "ml100k")  # without side fields: none of the first export's stay
    assert sorted(p.name for p in (tmp_path / "ml100k").iterdir()) == sorted(f.name for f in again)


@pytest.mark.parametrize("name", ["../evil", "a/b", "", ".hidden"])
def test_a_name_that_is_not_plain_is_refused_before_anything_is_written(tmp_path, name):
    from movierec.exceptions import ConfigError
    from movierec.split.split import Split

    frame = pd.DataFrame({"user": [1], "item": [2], "timestamp": [3]})
    with pytest.raises(ConfigError, match="--name"):
        export_recbole(Split(frame, frame.iloc[:0], frame.iloc[:0]), tmp_path / "out", name)
    assert not any(tmp_path.iterdir())


@pytest.mark.realdata
def test_side_fields_of_another_data_set_are_written_with_a_note(data_dir, tmp_path):
    """A split whose item ids match none of ml-100k's: the side files match nothing, said so."""
    from typer.testing import CliRunner

    from movierec.cli import app
    from movierec.split import write_split
    from movierec.split.split import Split

    rows = pd.DataFrame({"user": [f"u{u}" for u in range(6) for _ in range(4)],
                         "item": [f"m{i}" for _ in range(6) for i in range(4)], "timestamp": list(range(24))})
    write_split(Split(rows.iloc[:12], rows.iloc[12:18], rows.iloc[18:]), tmp_path / "split")
    result = CliRunner().invoke(app, ["export", "recbole", "--split-dir", str(tmp_path / "split"), "--out",
                                      str(tmp_path / "rb"), "--data", "ml-100k", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "note: only 0 of the split's 4 items have a row in ml-100k's side fields" in result.output
