"""Named data sets: the data dir, downloads and checksums, without touching the internet.

A tiny archive built in tmp_path is served by ``http.server`` on 127.0.0.1 in a
thread; ``BASE_URL`` points there. The served folder mimics GroupLens::

    served/
      ml-latest-small.zip        ml-latest-small/ratings.csv (+ movies.csv)
      ml-latest-small.zip.md5    "MD5 (ml-latest-small.zip) = <hex>"  (as GroupLens writes it)
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from movierec.data import download
from movierec.data.download import NamedDataset, data_dir, fetch, resolve
from movierec.data.readers import read_dataset
from movierec.exceptions import DownloadError

SPEC = NamedDataset("ml-latest-small", "ml-latest-small.zip", "ml-latest-small", "ratings.csv")
RATINGS = b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n2,1,3.5,1445714835\n"


class _Server:
    """A static file server on a free local port, counting the requests it answers."""

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                super().do_GET()

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _build_archive(served: Path, *, folder: str = "ml-latest-small", md5: str | None = "right") -> Path:
    served.mkdir(parents=True, exist_ok=True)
    archive = served / "ml-latest-small.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(f"{folder}/ratings.csv", RATINGS)
        bundle.writestr(f"{folder}/movies.csv", "movieId,title,genres\n1,Toy Story (1995),Animation\n")
    digest = hashlib.md5(archive.read_bytes()).hexdigest()
    companion = served / "ml-latest-small.zip.md5"
    if md5 == "right":
        companion.write_text(f"MD5 (ml-latest-small.zip) = {digest}\n")
    elif md5 == "md5sum":
        companion.write_text(f"{digest}  ml-latest-small.zip\n")
    elif md5 == "wrong":
        companion.write_text(f"MD5 (ml-latest-small.zip) = {'0' * 32}\n")
    return archive


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server = _Server(tmp_path / "served")
    (tmp_path / "served").mkdir()
    monkeypatch.setattr(download, "BASE_URL", server.url)
    monkeypatch.setitem(download.NAMED_DATASETS, SPEC.name, SPEC)
    yield tmp_path / "served", server
    server.close()


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


@pytest.mark.parametrize("md5_format", ["right", "md5sum"])
def test_fetch_downloads_verifies_and_unpacks(served, tmp_path, md5_format):
    folder, _ = served
    _build_archive(folder, md5=md5_format)
    root = tmp_path / "data"
    target = fetch(SPEC, root)
    assert target == root / "ml-latest-small"
    assert (target / "ratings.csv").read_bytes() == RATINGS
    assert _leftovers(root) == ["ml-latest-small"]  # no scratch folder left behind
    assert len(read_dataset(target).interactions) == 3


def test_checksum_mismatch_raises_and_leaves_nothing(served, tmp_path):
    folder, _ = served
    _build_archive(folder, md5="wrong")
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="md5 differs"):
        fetch(SPEC, root)
    assert _leftovers(root) == []


def test_pinned_file_digest_mismatch_raises_and_leaves_nothing(served, tmp_path):
    folder, _ = served
    _build_archive(folder)
    pinned = NamedDataset(SPEC.name, SPEC.archive, SPEC.folder, SPEC.marker, {"ratings.csv": "0" * 64})
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="ratings.csv: sha256 differs"):
        fetch(pinned, root)
    assert _leftovers(root) == []


def test_pinned_file_digests_suffice_without_a_published_md5(served, tmp_path):
    folder, _ = served
    _build_archive(folder, md5=None)
    pinned = NamedDataset(
        SPEC.name, SPEC.archive, SPEC.folder, SPEC.marker, {"ratings.csv": hashlib.sha256(RATINGS).hexdigest()}
    )
    assert (fetch(pinned, tmp_path / "data") / "ratings.csv").read_bytes() == RATINGS


def test_no_published_checksum_is_refused_unless_verify_is_off(served, tmp_path):
    folder, _ = served
    _build_archive(folder, md5=None)
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="no checksum"):
        fetch(SPEC, root)
    assert _leftovers(root) == []
    assert (fetch(SPEC, root, verify=False) / "ratings.csv").is_file()


def test_archive_without_the_expected_folder(served, tmp_path):
    folder, _ = served
    _build_archive(folder, folder="something-else")
    with pytest.raises(DownloadError, match="does not hold ml-latest-small/ratings.csv"):
        fetch(SPEC, tmp_path / "data")
    assert _leftovers(tmp_path / "data") == []


def test_resolve_downloads_once_then_uses_the_copy(served, tmp_path):
    folder, server = served
    _build_archive(folder)
    root = tmp_path / "data"
    first = resolve("ml-latest-small", root)
    assert first == root / "ml-latest-small"
    n_requests = len(server.requests)
    assert n_requests >= 2 and "/ml-latest-small.zip.md5" in server.requests
    assert resolve("ml-latest-small", root) == first
    assert len(server.requests) == n_requests


def test_offline_error_says_where_to_put_the_files(monkeypatch, tmp_path):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setattr(download, "BASE_URL", "http://127.0.0.1:9")  # discard port: refused
    root = tmp_path / "data"
    with pytest.raises(DownloadError) as caught:
        resolve("ml-1m", root)
    message = str(caught.value)
    assert "could not download http://127.0.0.1:9/ml-1m.zip" in message
    assert str(root / "ml-1m" / "ratings.dat") in message
    assert "MOVIEREC_DATA_DIR" in message and "--data-dir" in message
    assert not (root / "ml-1m").exists()


def test_read_only_data_dir_says_where_to_put_the_files(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(download.tempfile, "TemporaryDirectory", refuse)
    with pytest.raises(DownloadError, match="cannot write to") as caught:
        resolve("ml-1m", tmp_path)
    assert str(tmp_path / "ml-1m" / "ratings.dat") in str(caught.value)


def test_no_download_error_names_the_folder(tmp_path):
    with pytest.raises(DownloadError, match=str(tmp_path / "ml-10M100K" / "ratings.dat")):
        resolve("ml-10m", tmp_path, download=False)


def test_resolve_finds_a_copy_by_name_or_archive_folder(tmp_path):
    (tmp_path / "ml-10M100K").mkdir()
    (tmp_path / "ml-10M100K" / "ratings.dat").write_text("1::2::3::4\n")
    assert resolve("ml-10m", tmp_path, download=False) == tmp_path / "ml-10M100K"
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ratings.dat").write_text("1::2::3::4\n")
    assert resolve("ml-1m", tmp_path, download=False) == tmp_path / "ml-1m"


def test_resolve_returns_an_existing_path_unchanged(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user,item\n1,2\n")
    assert resolve(str(path)) == path


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(DownloadError, match="ml-100k.*ml-25m"):
        resolve("ml-7m", tmp_path)


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(download.DATA_DIR_ENV, str(tmp_path / "env"))
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv(download.DATA_DIR_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".cache" / "movierec"


@pytest.mark.realdata
def test_resolve_finds_the_shared_copy_without_downloading(data_dir, monkeypatch):
    monkeypatch.setattr(download, "BASE_URL", "http://127.0.0.1:9")  # any download would fail
    assert resolve("ml-100k", data_dir) == data_dir / "ml-100k"
    monkeypatch.setenv(download.DATA_DIR_ENV, str(data_dir))
    assert resolve("ml-100k") == data_dir / "ml-100k"


def test_download_shows_a_progress_bar(served, tmp_path, capsys):
    folder, _ = served
    _build_archive(folder)
    fetch(SPEC, tmp_path / "data")
    out = capsys.readouterr()
    assert "downloading ml-latest-small.zip" in out.out + out.err
