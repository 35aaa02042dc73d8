"""Raw files: where they live, how they are verified, downloaded and cached.

Every dataset module declares its raw files as `RawFile`s: a canonical path under the data
directory, the sha256 of the file's *content* and the official download location. The content
checksum of a `.gz` file is the sha256 of its decompressed bytes, so a copy gzip-compressed by a
different tool (or an uncompressed copy) verifies against the same number as the official file.

Data directory precedence: ``--data-dir`` (``set_data_dir``) > ``REPRO_DATA_DIR`` > ``~/.cache/reprorec``.
Processed tables go to ``REPRO_CACHE_DIR`` (default ``~/.cache/reprorec/processed``), because the
data directory may be read-only (as ``../shared/data`` is).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

_DATA_DIR_OVERRIDE: Path | None = None


class DatasetError(RuntimeError):
    """A dataset file is missing, corrupt or malformed. The message tells the user what to do."""


def set_data_dir(path: str | os.PathLike | None) -> None:
    """Set the data directory for this process (the CLI's ``--data-dir``)."""
    global _DATA_DIR_OVERRIDE
    _DATA_DIR_OVERRIDE = Path(path).expanduser().resolve() if path else None


def data_dir() -> Path:
    if _DATA_DIR_OVERRIDE is not None:
        return _DATA_DIR_OVERRIDE
    env = os.environ.get("REPRO_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return Path("~/.cache/reprorec").expanduser()


def cache_dir() -> Path:
    env = os.environ.get("REPRO_CACHE_DIR")
    path = Path(env).expanduser() if env else Path("~/.cache/reprorec/processed").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def offline() -> bool:
    return os.environ.get("REPRO_OFFLINE", "0") not in ("", "0", "false", "False")


def open_text(path: Path):
    """Open a text file, transparently gunzipping ``.gz`` files."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, "rt", encoding="utf-8", newline="")


def content_sha256(path: Path, gz: bool | None = None) -> str:
    """sha256 of the file's content (decompressed for ``.gz``), streamed in 1 MiB blocks."""
    h = hashlib.sha256()
    opener = gzip.open if (path.suffix == ".gz" if gz is None else gz) else open
    with opener(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified_sha256(path: Path) -> str:
    """content_sha256 memoised on (path, size, mtime) so multi-GB files are hashed once."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]
    memo = cache_dir() / "sha256" / f"{key}.txt"
    if memo.exists():
        return memo.read_text().strip()
    digest = content_sha256(path)
    memo.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(memo, digest)
    return digest


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class RawFile:
    """One raw file of a public dataset.

    path:          canonical location relative to the data directory.
    sha256:        sha256 of the content (decompressed if gzip); None where no checksum is pinned
                   (e.g. a 2014 Amazon category we have never seen) — then the observed checksum is
                   still recorded in every result, and a warning is printed.
    url:           official download location (a file, or an archive holding ``member``).
    member:        path of the file inside the archive at ``url`` (zip), if any.
    alternatives:  other accepted relative paths, e.g. a gzip-compressed copy of a plain file.
    how_to_get:    one line for the user when the file cannot be downloaded automatically.
    """

    path: str
    sha256: str | None
    url: str | None = None
    member: str | None = None
    alternatives: tuple[str, ...] = ()
    how_to_get: str = ""

    def candidates(self) -> list[Path]:
        root = data_dir()
        return [root / p for p in (self.path, *self.alternatives)]

    def _explain(self, dataset: str, problem: str) -> str:
        lines = [
            f"[{dataset}] {problem}",
            f"  looked at:        {', '.join(str(p) for p in self.candidates())}",
            f"  expected sha256:  {self.sha256 or '(not pinned)'} (of the decompressed content)",
            f"  official source:  {self.url or 'no public download; see the dataset README'}"
            + (f" (archive member {self.member})" if self.member else ""),
            f"  to place it by hand: put the file at {data_dir() / self.path}"
            " (or point --data-dir / REPRO_DATA_DIR at a directory that has it).",
        ]
        if self.how_to_get:
            lines.append(f"  note: {self.how_to_get}")
        return "\n".join(lines)

    def locate(self, dataset: str, *, verify: bool = True) -> Path:
        """Return the verified path, downloading it first if missing and allowed."""
        for cand in self.candidates():
            if cand.exists():
                break
        else:
            if self.url and not offline():
                cand = self._download(dataset)
            else:
                why = "REPRO_OFFLINE=1 forbids downloading" if self.url else "it cannot be downloaded automatically"
                raise DatasetError(self._explain(dataset, f"missing file {self.path} ({why})"))
        if verify:  # an unpinned file is read whole too, so a truncated .gz fails here, naming the file
            try:
                got = _verified_sha256(cand)
            except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise DatasetError(self._explain(dataset, f"unreadable file {cand}: {exc}")) from None
            if self.sha256 is not None and got != self.sha256:
                raise DatasetError(self._explain(dataset, f"checksum mismatch for {cand}: got sha256 {got}"))
        return cand

    def _download(self, dataset: str) -> Path:
        """Download with a progress bar, verify, and move into place atomically."""
        from tqdm.auto import tqdm

        dest = data_dir() / self.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        downloads = data_dir() / ".downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        archive = downloads / Path(self.url).name
        if not archive.exists():
            tmp = archive.with_suffix(archive.suffix + ".part")
            try:
                with urllib.request.urlopen(self.url, timeout=60) as resp, open(tmp, "wb") as out:
                    total = int(resp.headers.get("Content-Length", 0)) or None
                    with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {archive.name}") as bar:
                        for block in iter(lambda: resp.read(1 << 20), b""):
                            out.write(block)
                            bar.update(len(block))
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise DatasetError(self._explain(dataset, f"download failed: {exc}")) from None
            os.replace(tmp, archive)
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        tmp_dest = Path(tmp_name)
        if self.member and zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf, zf.open(self.member) as src, open(tmp_dest, "wb") as out:
                shutil.copyfileobj(src, out)
        elif self.member:  # a tarball, e.g. Criteo's dac.tar.gz
            with tarfile.open(archive) as tf, tf.extractfile(self.member) as src, open(tmp_dest, "wb") as out:
                shutil.copyfileobj(src, out)
        else:
            shutil.copyfile(archive, tmp_dest)
        if self.sha256 is not None:
            got = content_sha256(tmp_dest, gz=dest.suffix == ".gz")
            if got != self.sha256:
                tmp_dest.unlink(missing_ok=True)
                raise DatasetError(self._explain(dataset, f"downloaded file has sha256 {got}"))
        os.replace(tmp_dest, dest)
        return dest


@dataclass
class LoadedTable:
    """A parsed table plus the provenance of the raw files it came from."""

    frame: pd.DataFrame
    files: dict[str, str] = field(default_factory=dict)  # relative path -> sha256


def cached_table(
    name: str,
    version: int,
    files: dict[str, str],
    parse: Callable[[], pd.DataFrame],
) -> pd.DataFrame:
    """Parse once, then read the Arrow cache keyed by raw checksums + preprocessing version.

    The cache is a Hugging Face ``datasets`` folder (``save_to_disk``: Arrow, memory-mapped on load;
    see ``cached_dataset``); the frame read back is identical to the parsed one (dtypes and index
    included: the pandas schema metadata is kept beside the Arrow data). Bump ``version`` in a loader
    whenever its parsing changes: old caches are then ignored.
    """
    ds, meta = _cached(name, version, files, parse)
    table = ds.data.table
    if meta:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"pandas": meta.encode()})
    return table.to_pandas()


def cached_dataset(name: str, version: int, files: dict[str, str], parse: Callable[[], pd.DataFrame]):
    """The same cache as a memory-mapped ``datasets.Dataset`` (nothing read into memory until used)."""
    return _cached(name, version, files, parse)[0]


def _cache_path(name: str, version: int, files: dict[str, str]) -> Path:
    key_src = json.dumps({"name": name, "version": version, "files": files}, sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    return cache_dir() / f"{name}-v{version}-{key}.arrow"


def _cached(name, version, files, parse):
    import datasets
    import pyarrow as pa

    path = _cache_path(name, version, files)
    if not (path / "dataset_info.json").exists():
        frame = parse()
        cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
        if cats:  # datasets stores dictionary columns as plain values: the frame would not come back equal
            raise TypeError(f"[{name}] categorical columns {cats} cannot be cached; cache the raw values instead")
        table = pa.Table.from_pandas(frame)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        try:
            with _quiet_datasets():
                datasets.Dataset(table).save_to_disk(str(tmp))
            meta = (table.schema.metadata or {}).get(b"pandas", b"").decode()
            (tmp / "pandas_metadata.json").write_text(meta)
            try:
                os.rename(tmp, path)  # atomic; another process may have won the race: theirs is identical
            except OSError:
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    with _quiet_datasets():
        ds = datasets.load_from_disk(str(path))
    meta_file = path / "pandas_metadata.json"
    return ds, meta_file.read_text() if meta_file.exists() else ""


class _quiet_datasets:
    """No progress bars from ``datasets`` for these small cache writes and reads."""

    def __enter__(self):
        import datasets

        self.was = datasets.utils.logging.is_progress_bar_enabled()
        datasets.disable_progress_bars()

    def __exit__(self, *exc):
        import datasets

        if self.was:
            datasets.enable_progress_bars()


def resolve(dataset: str, raw_files: Iterable[RawFile]) -> tuple[dict[str, Path], dict[str, str]]:
    """Locate and verify several files; return {rel path: path} and {rel path: sha256}."""
    paths, shas = {}, {}
    for rf in raw_files:
        p = rf.locate(dataset)
        paths[rf.path] = p
        shas[rf.path] = rf.sha256 or _verified_sha256(p)
        if rf.sha256 is None:
            import warnings

            warnings.warn(f"[{dataset}] {rf.path} has no pinned checksum; recording observed sha256 {shas[rf.path]}")
    return paths, shas


def load_train_test(dataset: str, raw_files: list[RawFile], read: Callable[[Path, str], pd.DataFrame]
                    ) -> dict[str, LoadedTable]:
    """A small slice of a CTR log read whole: {'train': ..., 'test': ...} by file name (a file whose
    name starts with 'test' is the test part); ``read(path, part)`` parses one file."""
    paths, shas = resolve(dataset, raw_files)
    out = {}
    for rf in raw_files:
        part = "test" if Path(rf.path).name.startswith("test") else "train"
        out[part] = LoadedTable(read(paths[rf.path], part), {rf.path: shas[rf.path]})
    return out
