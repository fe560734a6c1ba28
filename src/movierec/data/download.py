"""Named data sets: find them in the data directory, or download them from GroupLens.

The data directory is the one place movierec reads an environment variable:
``--data-dir`` wins, then ``MOVIEREC_DATA_DIR``, then ``~/.cache/movierec``.
GroupLens' licence forbids redistribution, so the archives are always fetched from
https://files.grouplens.org and never shipped with movierec.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from movierec.exceptions import DownloadError

DATA_DIR_ENV = "MOVIEREC_DATA_DIR"
BASE_URL = "https://files.grouplens.org/datasets/movielens"


@dataclass(frozen=True)
class NamedDataset:
    """Where a named data set comes from and which folder its archive unpacks to.

    ``file_sha256`` pins files inside the archive where their digest is known; the
    archive itself is checked against the ``.md5`` GroupLens publishes beside it.
    """

    name: str
    archive: str
    folder: str
    marker: str  # a file whose presence means the data set is complete
    file_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{BASE_URL}/{self.archive}"


NAMED_DATASETS = {
    d.name: d
    for d in (
        NamedDataset(
            "ml-100k", "ml-100k.zip", "ml-100k", "u.data",
            {
                "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
                "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
                "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
            },
        ),
        NamedDataset("ml-1m", "ml-1m.zip", "ml-1m", "ratings.dat"),
        NamedDataset("ml-10m", "ml-10m.zip", "ml-10M100K", "ratings.dat"),
        NamedDataset("ml-20m", "ml-20m.zip", "ml-20m", "ratings.csv"),
        NamedDataset("ml-25m", "ml-25m.zip", "ml-25m", "ratings.csv"),
        NamedDataset("ml-latest", "ml-latest.zip", "ml-latest", "ratings.csv"),
        NamedDataset("ml-latest-small", "ml-latest-small.zip", "ml-latest-small", "ratings.csv"),
    )
}


def data_dir(explicit: Path | str | None = None) -> Path:
    """The data directory: `explicit`, else ``$MOVIEREC_DATA_DIR``, else ``~/.cache/movierec``."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    return Path.home() / ".cache" / "movierec"


def resolve(name_or_path: str, directory: Path | str | None = None, *, download: bool = True) -> Path:
    """A path to the data: an existing path as is, a named data set from the data dir.

    Raises
    ------
    DownloadError
        The name is unknown, or the data set is absent and cannot be downloaded.
    """
    as_path = Path(name_or_path).expanduser()
    if as_path.exists():
        return as_path
    if name_or_path not in NAMED_DATASETS:
        raise DownloadError(
            f"{name_or_path!r} is neither an existing path nor a known data set "
            f"({', '.join(NAMED_DATASETS)})"
        )
    spec = NAMED_DATASETS[name_or_path]
    root = data_dir(directory)
    for folder in (root / spec.name, root / spec.folder):
        if (folder / spec.marker).is_file():
            return folder
    if not download:
        raise DownloadError(_where_to_put(spec, root))
    return fetch(spec, root)


def fetch(spec: NamedDataset, root: Path, *, verify: bool = True) -> Path:
    """Download and unpack `spec` under `root`, verifying checksums; returns its folder."""
    target = root / spec.folder
    try:  # a read-only data dir (CI's shared copy) gets the same clear message
        root.mkdir(parents=True, exist_ok=True)
        scratch_dir = tempfile.TemporaryDirectory(dir=root, prefix=".download-")
    except OSError as error:
        raise DownloadError(f"cannot write to {root} ({error})\n{_where_to_put(spec, root)}") from None
    with scratch_dir as scratch:
        archive = Path(scratch) / spec.archive
        try:
            _download(spec.url, archive)
            expected_md5 = _published_md5(spec.url) if verify else None
        except (urllib.error.URLError, OSError) as error:
            raise DownloadError(f"could not download {spec.url}: {error}\n{_where_to_put(spec, root)}") from None
        if verify and expected_md5 is None and not spec.file_sha256:
            raise DownloadError(
                f"no checksum could be fetched for {spec.url}; retry, or pass verify=False"
            )
        if expected_md5 and _digest(archive, "md5") != expected_md5:
            raise DownloadError(f"{spec.archive}: md5 differs from GroupLens' published {expected_md5}")
        unpacked = Path(scratch) / "unpacked"
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(unpacked)
        folder = unpacked / spec.folder
        if not (folder / spec.marker).is_file():
            raise DownloadError(
                f"{spec.archive} does not hold {spec.folder}/{spec.marker}; "
                f"is {spec.url} the right archive?"
            )
        if verify:
            for filename, expected in spec.file_sha256.items():
                if _digest(folder / filename, "sha256") != expected:
                    raise DownloadError(f"{spec.name}/{filename}: sha256 differs from {expected}")
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)  # atomic on one file system: no half-unpacked data set
    return target


def _download(url: str, destination: Path) -> None:
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn()) as progress:
            task = progress.add_task(f"downloading {url.rsplit('/', 1)[-1]}", total=total)
            with destination.open("wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    progress.advance(task, len(chunk))


def _published_md5(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url + ".md5", timeout=30) as response:
            text = response.read().decode("ascii", errors="replace")
    except urllib.error.URLError:
        return None
    token = text.strip().split()[-1] if "=" in text else text.strip().split()[0]
    return token.lower() if len(token) == 32 else None


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _where_to_put(spec: NamedDataset, root: Path) -> str:
    return (
        f"{spec.name} is not in {root}. Download {spec.url} on a machine that is online, "
        f"unzip it so that {root / spec.folder / spec.marker} exists, or point "
        f"--data-dir / ${DATA_DIR_ENV} at a folder that holds it."
    )
