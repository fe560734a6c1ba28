"""The HTML report of a real run (pop, EASE, FM, reranker, ensemble on the fixed mixed
split), opened in a real headless Chromium: every image loads, no console errors."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from movierec.analysis.html_report import write_html_report
from movierec.analysis.run_lists import RunFolder
from movierec.cli import app
from movierec.exceptions import ConfigError, DataError
from tests.synthetic import real_mixed_run

# a real run of five models and a real browser: the slow run of .ci/run
pytestmark = pytest.mark.slow
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def report_run(splits_dir: Path, data_dir: Path, tmp_path_factory) -> Path:
    out = real_mixed_run(tmp_path_factory.mktemp("report") / "mixed", data_dir, splits_dir,
                         ("pop", "ease", "fm", "rerank"), ensemble=True, refit=False,
                         params={"ease": {"l2": [200.0, 300.0, 500.0]}, "fm": {"epochs": 3, "device": "cpu"}})
    write_html_report([out], out / "report.html")  # what `movierec run` does after the pipeline
    return out


def test_the_page_is_self_contained_and_has_every_section(report_run):
    page = (report_run / "report.html").read_text()
    for model in ("pop", "ease", "fm", "rerank", "ensemble"):
        assert f"<td>{model}</td>" in page
    for section in ("Beyond accuracy", "Paired against", "Leaderboard risk", "by user activity",
                    "ease: validation curve", "fm: validation curve"):
        assert section in page
    assert "http://" not in page and "https://" not in page  # nothing fetched at view time


def test_the_lists_read_back_score_what_the_run_measured(report_run):
    folder = RunFolder.read(report_run)
    measured = json.loads((report_run / "metrics.json").read_text())["models"]
    for model in folder.models:
        scored = folder.scored(model)
        for metric in ("recall@10", "ndcg@10", "hit_rate@10"):
            assert scored.per_user[metric].mean() == pytest.approx(measured[model]["test"][metric], abs=1e-12)
        assert scored.catalogue_level["coverage@10"] == pytest.approx(measured[model]["test"]["coverage@10"])


def test_two_runs_and_a_foreign_list_file_side_by_side(report_run, tmp_path):
    other = tmp_path / "again"
    shutil.copytree(report_run, other)
    metrics = json.loads((other / "metrics.json").read_text())
    metrics["models"]["pop"]["valid"]["recall@10"] = 0.99  # the second run's pop, now best on validation
    (other / "metrics.json").write_text(json.dumps(metrics))
    foreign = tmp_path / "recbole.csv"
    shutil.copy(report_run / "recommendations" / "pop.csv", foreign)
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["report", str(report_run), str(other), "--lists", f"recbole={foreign}",
                                      "--out", str(tmp_path / "both.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "both.html").read_text()
    assert "<td>mixed/ease</td>" in page and "<td>again/ease</td>" in page and "<td>recbole</td>" in page
    assert "Paired against again/pop (chosen on validation)" in page  # over both runs, not the first one's best
    for out in (tmp_path, tmp_path / "both.md"):  # a folder, or a name that promises Markdown
        refused = CliRunner().invoke(app, ["report", str(report_run), "--out", str(out)])
        assert refused.exit_code == 2 and "the report is one HTML page" in refused.output


def test_cells_from_a_run_folder_are_escaped_and_labels_are_unique(report_run, tmp_path):
    crafted = tmp_path / "<i>crafted"
    shutil.copytree(report_run, crafted)
    metrics = json.loads((crafted / "metrics.json").read_text())
    metrics["setting"] = "<script>alert(1)</script>"
    (crafted / "metrics.json").write_text(json.dumps(metrics))
    page = write_html_report([crafted], tmp_path / "r.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;i&gt;crafted" in page
    with pytest.raises(ConfigError, match="both called 'ease'"):
        write_html_report([report_run], tmp_path / "r.html",
                          lists={"ease": report_run / "recommendations" / "pop.csv"})


def test_what_a_list_file_leaves_out_is_said_on_the_page_and_to_the_log(report_run, tmp_path):
    """Unknown items count as misses and unknown users are ignored: both said, never a silent 0."""
    import warnings

    odd = tmp_path / "odd.csv"
    odd.write_text("user,item\nno-such-user,50\n42,no-such-item\n")
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy warning stands in for the notes
        page = write_html_report([report_run], tmp_path / "r.html", lists={"odd": odd}, log=lines.append).read_text()
    assert any("rows of users not in the split" in line for line in lines)
    assert any("rows recommend items not in the split" in line for line in lines)
    assert any("test users have no list" in line for line in lines)
    assert "odd: ignored 1 rows of users not in the split" in page


def test_a_model_whose_lists_were_removed_is_said_to_be_left_out(report_run, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(report_run, partial)
    (partial / "recommendations" / "pop.csv").unlink()
    lines = []
    page = write_html_report([partial], tmp_path / "r.html", log=lines.append).read_text()
    assert any(line.endswith("left out pop, whose lists are not in recommendations/") for line in lines), lines
    assert "<td>ease</td>" in page and "<td>pop</td>" not in page


def test_a_folder_that_is_not_a_run_is_named(tmp_path):
    with pytest.raises(DataError, match="not a movierec run folder"):
        write_html_report([tmp_path], tmp_path / "r.html")


def test_the_page_opens_in_chromium_with_every_image_and_no_console_error(report_run, tmp_path):
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail(".ci/run installs Debian's chromium and chromium-driver; neither is on PATH")
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,1400"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get((report_run / "report.html").as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0]);")
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert driver.save_screenshot(str(tmp_path / "report.png"))
    finally:
        driver.quit()
    assert len(images) >= 6 and all(loaded for _, loaded in images), images
    assert errors == []
