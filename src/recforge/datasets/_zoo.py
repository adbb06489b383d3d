"""Zoo entries: name -> official files (URL + checksum) + a reader.

How a dataset is found, in order: ``path=`` (a local directory with the official files, or
the official archive itself, which is verified and unpacked into the cache), the embedded
copy (``ml-latest-small``), else a checksum-verified download into the cache directory
(``$RECFORGE_CACHE`` or ``~/.cache/recforge``; see :mod:`recforge.datasets._download`).

Checksums: every pinned value below comes from an independent public source named next to
it (``checksum_source``); none was made up. Where no source publishes a SHA-256 but one
publishes an MD5 or a git blob id, that is pinned instead. Files without any published
checksum (``ml-32m``, ``criteo``) are not downloaded unless the caller passes
``allow_unverified=True``; a local copy via ``path=`` always works.

Readers for other helpers (CTR feature logs, logged bandit feedback)
---------------------------------------------------------------------
``frappe``, ``criteo`` and ``open-bandit`` are registered here with their URL, checksum and
licence, but their readers live with the containers they build (``FeatureLog``,
``BanditLog``). Plug one in either way, without touching the entries:

* call ``recforge.datasets.register_reader("frappe", func)`` (e.g. at import of the module
  that defines ``func``), or
* set the entry's ``reader`` to a lazily imported ``"module:function"`` string, e.g.
  ``reader="recforge.data.features:read_frappe"``.

A reader is called as ``func(root: Path, *, files: list[str] | None, **options)`` where
``root`` is the directory holding the official files (downloaded and unpacked, or the
user's ``path=``), and returns whatever container fits (``Interactions``, ``FeatureLog``,
``BanditLog``). A registered function wins over the entry's own reader.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recforge.data.interactions import Interactions
from recforge.datasets._download import Remote, cache_dir, download, extract, verify_file
from recforge.errors import ConfigError, DataError

Reader = Callable[..., Any]
_REGISTERED: dict[str, Reader] = {}


def register_reader(name: str, func: Reader | str) -> None:
    """Install the reader of a zoo entry (a function or a ``"module:function"`` string)."""
    key = name.strip().lower()
    if key not in ZOO:
        raise ConfigError(f"unknown dataset {name!r}; valid names are: {', '.join(sorted(ZOO))}")
    if isinstance(func, str):
        _REGISTERED[key] = _import_reader(func, key)
    else:
        _REGISTERED[key] = func


def _import_reader(spec: str, name: str) -> Reader:
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{name}: reader {spec!r} cannot be imported ({exc})") from exc


@dataclass(frozen=True)
class Entry:
    """A dataset of the zoo.

    Attributes:
        name: zoo name.
        description: one line: what it is, its size.
        reader: ``func(root, *, files, **options)``, a ``"module:function"`` string, or None
            (not installed yet; see :func:`register_reader`).
        remotes: the official files; an archive has ``extract=True``.
        subdir: folder inside the unpacked archive that holds the files (``ml-10M100K``).
        main_file: a file that marks the data folder (to find it under ``path=``).
        embedded: a copy shipped inside the package.
        licence: the terms, in short; read the dataset's own licence before use.
        kind: ``interactions``, ``features`` (CTR) or ``bandit`` (off-policy evaluation).
        homepage: where the dataset is described.
    """

    name: str
    description: str
    reader: Reader | str | None
    remotes: tuple[Remote, ...] = ()
    subdir: str | None = None
    main_file: str | None = None
    embedded: Path | None = None
    licence: str = ""
    kind: str = "interactions"
    homepage: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    # ------------------------------------------------------------------ locating the files
    def _data_root(self, root: Path) -> Path:
        """Accept the data folder itself or a folder above it (the unpacked archive's root)."""
        if self.main_file and (root / self.main_file).exists():
            return root
        if self.subdir and (root / self.subdir).is_dir():
            return root / self.subdir
        return root

    def _archive(self) -> Remote | None:
        return next((r for r in self.remotes if r.extract), None)

    def locate(self, path: str | Path | None = None, *, allow_unverified: bool = False) -> Path:
        """The directory holding the official files (downloading them when needed)."""
        if path is not None:
            p = Path(path).expanduser()
            if not p.exists():
                raise DataError(f"{self.name}: path {p} does not exist; give the folder with "
                                f"the official files{self._file_hint()}")
            archive = self._archive()
            if p.is_file():
                if archive is None or p.name != archive.filename:
                    raise DataError(
                        f"{self.name}: path {p} is a file; give the folder with the official "
                        f"files{self._file_hint()}"
                        + (f" or the archive {archive.filename}" if archive else "")
                    )
                verify_file(p, archive)
                return self._data_root(extract(p, cache_dir() / self.name / "files"))
            return self._data_root(p)
        if self.embedded is not None:
            return self.embedded
        return self.fetch(allow_unverified=allow_unverified)

    def _file_hint(self) -> str:
        return f" (e.g. {self.main_file})" if self.main_file else ""

    def fetch(self, *, allow_unverified: bool = False) -> Path:
        """Download (verified) and unpack the official files into the cache; return their folder."""
        if not self.remotes:
            raise ConfigError(f"{self.name}: no download is known; give path= (a local copy)")
        base = cache_dir() / self.name
        unpacked: Path | None = None
        for remote in self.remotes:
            f = download(remote, base, allow_unverified=allow_unverified)
            if remote.extract:
                unpacked = extract(f, base / "files")
        return self._data_root(unpacked if unpacked is not None else base)

    # ------------------------------------------------------------------ reading
    def resolve_reader(self) -> Reader:
        reader = _REGISTERED.get(self.name, self.reader)
        if reader is None:
            raise ConfigError(
                f"{self.name}: no reader is installed for this {self.kind} dataset yet; "
                f"register one with recforge.datasets.register_reader({self.name!r}, func)"
            )
        if isinstance(reader, str):
            return _import_reader(reader, self.name)
        return reader

    def load(self, path: str | Path | None = None, files: list[str] | None = None,
             **options: Any) -> Any:
        """Locate the files (see :meth:`locate`) and read them."""
        allow = bool(options.pop("allow_unverified", False))
        reader = self.resolve_reader()
        root = self.locate(path, allow_unverified=allow)
        return reader(root, files=files, **options)

    def info(self) -> dict[str, Any]:
        """Metadata: description, licence, official files and their checksums."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "licence": self.licence,
            "homepage": self.homepage,
            "embedded": self.embedded is not None,
            "files": [
                {"url": r.url, "filename": r.filename, "sha256": r.sha256, "md5": r.md5,
                 "git_blob": r.git_blob, "size": r.size, "checksum_source": r.checksum_source or None}
                for r in self.remotes
            ],
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------- readers
_COLS4 = ["user", "item", "rating", "timestamp"]


def _frame_columns(df: Any) -> dict[str, Any]:
    cols = df.columns
    return {"rating": "rating" if "rating" in cols else None,
            "timestamp": "timestamp" if "timestamp" in cols else None}


def _read_many(root: Path, files: list[str], read_one: Callable[[Path], Any], name: str,
               **options: Any) -> Interactions:
    """Read several files of one dataset into one Interactions with per-row origin.

    Each file is checked on its own first, so an error names the file and its line.
    """
    import numpy as np
    import polars as pl

    if len(files) > 127:
        raise ConfigError(f"{name}: at most 127 files can be read together, got {len(files)}")
    frames = []
    for idx, f in enumerate(files):
        p = root / f
        if not p.exists():
            raise DataError(f"{name}: file {p} not found (files= names files inside the data folder {root})")
        frame, offset = read_one(p)
        _check_file(frame, p, offset)
        frames.append(frame.with_columns(pl.lit(idx, dtype=pl.Int8).alias("_origin")))
    df = pl.concat(frames, how="vertical_relaxed")
    origin = df.get_column("_origin").to_numpy()
    data = Interactions.from_frame(
        df.drop("_origin"), user="user", item="item", **_frame_columns(df),
        duplicates=options.get("duplicates", "keep_all"), name=name, source=str(root),
    )
    if data.n_interactions != origin.shape[0]:  # a policy combined repeats across files
        raise ConfigError(f"{name}: files= keeps every row; leave duplicates at 'keep_all'")
    data.origin = np.asarray(origin, dtype=np.int8)
    data.origin_names = list(files)
    return data


def _check_file(frame: Any, p: Path, offset: int | None) -> None:
    """Per-file validation pass so that errors name the file and line."""
    Interactions.from_frame(frame, user="user", item="item", **_frame_columns(frame),
                            duplicates="keep_all", source=str(p), line_offset=offset)


def _single(root: Path, default: str, files: list[str] | None, read_one: Callable[[Path], Any],
            name: str, **options: Any) -> Interactions:
    if files:
        return _read_many(root, files, read_one, name, **options)
    p = root / default
    if not p.exists() and (root / f"{default}.gz").exists():
        p = root / f"{default}.gz"
    if not p.exists():
        raise DataError(f"{name}: {p} not found; give path= the folder holding {default}")
    frame, offset = read_one(p)
    return Interactions.from_frame(
        frame, user="user", item="item", **_frame_columns(frame),
        duplicates=options.get("duplicates", "error"), name=name, source=str(p),
        line_offset=offset,
    )


def _tsv4(p: Path) -> tuple[Any, int]:
    from recforge.data.readers import read_table

    return read_table(p, sep="\t", has_header=False, columns=_COLS4)


def _dat4(p: Path) -> tuple[Any, int]:
    """MovieLens 1M/10M ``UserID::MovieID::Rating::Timestamp`` (also ``.gz``)."""
    from recforge.data.readers import read_table

    return read_table(p, sep="::", has_header=False, columns=_COLS4)


def _ml_csv(p: Path) -> tuple[Any, int]:
    """MovieLens 20M/25M/32M/latest ``userId,movieId,rating,timestamp`` with a header."""
    from recforge.data.readers import read_table

    df, offset = read_table(p, sep=",")
    missing = [c for c in ("userId", "movieId", "rating", "timestamp") if c not in df.columns]
    if missing:
        raise DataError(f"{p}: missing columns {missing}; expected the MovieLens header "
                        "userId,movieId,rating,timestamp")
    return df.select(user="userId", item="movieId", rating="rating", timestamp="timestamp"), offset


def _lastfm(p: Path) -> tuple[Any, int]:
    """HetRec 2011 ``user_artists.dat``: ``userID \\t artistID \\t weight`` (play count)."""
    from recforge.data.readers import read_table

    df, offset = read_table(p, sep="\t")
    missing = [c for c in ("userID", "artistID", "weight") if c not in df.columns]
    if missing:
        raise DataError(f"{p}: missing columns {missing}; expected the header userID, artistID, weight")
    return df.select(user="userID", item="artistID", rating="weight"), offset


def _lines(p: Path) -> Any:
    import polars as pl

    raw = pl.read_csv(p, has_header=False, separator="\x1f", new_columns=["line"],
                      infer_schema=False, quote_char=None)
    return raw.with_row_index("lineno", offset=1)


def _int_tokens(df: Any, p: Path, what: str) -> Any:
    """Explode ``tokens`` (list of str) into Int64 ``tok`` naming the first bad line."""
    import polars as pl

    long = df.explode("tokens").filter(pl.col("tokens").is_not_null() & (pl.col("tokens") != ""))
    tok = long.get_column("tokens").cast(pl.Int64, strict=False)
    bad = tok.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise DataError(f"{p}, line {long['lineno'][i]}: {long['tokens'][i]!r} is not an integer id; "
                        f"each line must be {what}")
    return long.with_columns(tok.alias("tok"))


def _adjacency(p: Path) -> tuple[Any, None]:
    """LightGCN/NGCF format: each line ``user item item ...`` (0-based ids)."""
    import polars as pl

    raw = _lines(p)
    parts = raw.with_columns(pl.col("line").str.strip_chars().str.split(" ").alias("tokens"))
    parts = parts.with_columns(
        pl.col("tokens").list.first().alias("user_tok"),
        pl.col("tokens").list.slice(1).alias("tokens"),
    )
    users = parts.get_column("user_tok").cast(pl.Int64, strict=False)
    bad = users.is_null() & parts.get_column("line").str.strip_chars().ne("")
    if bad.any():
        i = int(bad.arg_true()[0])
        raise DataError(f"{p}, line {i + 1}: {parts['user_tok'][i]!r} is not an integer user id; "
                        "each line must be 'user item item ...'")
    long = _int_tokens(parts.with_columns(users.alias("user")), p, "'user item item ...'")
    return long.select(pl.col("user"), pl.col("tok").alias("item")), None


def _citeulike(p: Path) -> tuple[Any, None]:
    """citeulike-a ``users.dat``: line *u* (0-based user u) = ``count item item ...``."""
    import polars as pl

    raw = _lines(p)
    parts = raw.with_columns(pl.col("line").str.strip_chars().str.split(" ").alias("tokens"))
    parts = parts.with_columns(
        (pl.col("lineno") - 1).alias("user"),
        pl.col("tokens").list.first().cast(pl.Int64, strict=False).alias("count"),
        pl.col("tokens").list.slice(1).alias("tokens"),
    )
    n_tok = parts.get_column("tokens").list.eval(pl.element().filter(pl.element() != "")).list.len()
    bad = parts.get_column("count").is_null() | (parts.get_column("count") != n_tok)
    if bad.any():
        i = int(bad.arg_true()[0])
        raise DataError(f"{p}, line {i + 1}: the count {parts['line'][i].strip().split(' ')[0]!r} "
                        f"does not match the {n_tok[i]} item ids that follow; each line must be "
                        "'count item item ...'")
    long = _int_tokens(parts, p, "'count item item ...'")
    return long.select(pl.col("user"), pl.col("tok").alias("item")), None


def _reader(default: str, read_one: Callable[[Path], Any], name: str) -> Reader:
    def read(root: Path, *, files: list[str] | None = None, **options: Any) -> Interactions:
        return _single(root, default, files, read_one, name, **options)

    read.__doc__ = f"Read {name} from the folder holding {default} (or files=[...])."
    return read


def _gowalla(root: Path, *, files: list[str] | None = None, **options: Any) -> Interactions:
    return _read_many(root, files or ["train.txt"], _adjacency, "gowalla", **options)


# ---------------------------------------------------------------------- entries
_GL = "https://files.grouplens.org/datasets/movielens"
_TFDS = "tensorflow/datasets tensorflow_datasets/url_checksums/movielens.txt"
_ML_NOREDIST = ("GroupLens MovieLens terms: research use, acknowledge, no redistribution "
                "without permission, no commercial use without permission")


def _ml(name: str, description: str, zip_name: str, subdir: str, reader: Reader, main: str,
        *, sha256: str | None = None, md5: str | None = None, size: int | None = None,
        source: str = "", notes: tuple[str, ...] = ()) -> Entry:
    return Entry(
        name, description, reader,
        remotes=(Remote(f"{_GL}/{zip_name}", zip_name, sha256=sha256, md5=md5, size=size,
                        checksum_source=source, extract=True),),
        subdir=subdir, main_file=main, licence=_ML_NOREDIST,
        homepage="https://grouplens.org/datasets/movielens/", notes=notes,
    )


def _ml_latest(root: Path, *, files: list[str] | None = None, **options: Any) -> Interactions:
    return _single(root, "ratings.csv", files, _ml_csv, "ml-latest-small", **options)


ZOO: dict[str, Entry] = {}
for _e in (
    Entry(
        "ml-latest-small",
        "MovieLens latest-small (2018): 100,836 ratings, 610 users, 9,742 movies (embedded)",
        _ml_latest,
        remotes=(Remote(f"{_GL}/ml-latest-small.zip", "ml-latest-small.zip",
                        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                        size=978202, checksum_source=_TFDS, extract=True),),
        subdir="ml-latest-small", main_file="ratings.csv",
        embedded=Path(__file__).parent / "embedded" / "ml-latest-small",
        licence="GroupLens MovieLens terms: redistribution under the same terms; no commercial "
                "use without permission (see embedded/ml-latest-small/README.txt)",
        homepage="https://grouplens.org/datasets/movielens/latest/",
    ),
    _ml("ml-100k", "MovieLens 100K (1998): 100,000 ratings, 943 users, 1,682 movies; "
        "official splits u1..u5/ua/ub via files=", "ml-100k.zip", "ml-100k",
        _reader("u.data", _tsv4, "ml-100k"), "u.data",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        size=4924029, source=_TFDS),
    _ml("ml-1m", "MovieLens 1M (2003): 1,000,209 ratings, 6,040 users, 3,706 movies",
        "ml-1m.zip", "ml-1m", _reader("ratings.dat", _dat4, "ml-1m"), "ratings.dat",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        size=5917549, source=_TFDS),
    _ml("ml-10m", "MovieLens 10M (2009): 10,000,054 ratings, 69,878 users, 10,677 movies",
        "ml-10m.zip", "ml-10M100K", _reader("ratings.dat", _dat4, "ml-10m"), "ratings.dat",
        md5="ce571fd55effeba0271552578f2648bd",
        source="MD5 as pinned by eli-osherovich/papers_with_code datasets/movielens/dl_config.py "
               "(no published SHA-256 found)"),
    _ml("ml-20m", "MovieLens 20M (2015): 20,000,263 ratings, 138,493 users, 26,744 movies",
        "ml-20m.zip", "ml-20m", _reader("ratings.csv", _ml_csv, "ml-20m"), "ratings.csv",
        sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        size=198702078, source=_TFDS),
    _ml("ml-25m", "MovieLens 25M (2019): 25,000,095 ratings, 162,541 users, 59,047 movies",
        "ml-25m.zip", "ml-25m", _reader("ratings.csv", _ml_csv, "ml-25m"), "ratings.csv",
        sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
        size=261978986, source=_TFDS),
    _ml("ml-32m", "MovieLens 32M (2023): 32,000,204 ratings, 200,948 users, 84,432 movies",
        "ml-32m.zip", "ml-32m", _reader("ratings.csv", _ml_csv, "ml-32m"), "ratings.csv",
        notes=("No independently published checksum of ml-32m.zip was found: the download "
               "needs allow_unverified=True; prefer path= with a copy you checked against "
               "GroupLens's ml-32m.zip.md5.",)),
    Entry(
        "lastfm-2k",
        "HetRec 2011 Last.fm 2K: 92,834 user-artist play counts (weight), 1,892 users, 17,632 artists",
        _reader("user_artists.dat", _lastfm, "lastfm-2k"),
        remotes=(Remote("https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
                        "hetrec2011-lastfm-2k.zip", md5="296d61afe4e8632b173fc2dd3be20ce2",
                        checksum_source="MD5 as pinned by sisinflab/DataRec "
                                        "datarec/datasets/lastfm/lastfm_2011.py (no published SHA-256 found)",
                        extract=True),),
        main_file="user_artists.dat",
        licence="HetRec 2011 / Last.fm: non-commercial use; commercial use: contact Last.fm",
        homepage="https://grouplens.org/datasets/hetrec-2011/",
    ),
    Entry(
        "gowalla",
        "Gowalla check-ins, LightGCN/NGCF split: 29,858 users, 40,981 items; train.txt "
        "810,128 / test.txt 217,242 pairs (files=['train.txt', 'test.txt'])",
        _gowalla,
        remotes=(
            Remote("https://raw.githubusercontent.com/kuandeng/LightGCN/master/Data/gowalla/train.txt",
                   "train.txt", git_blob="a27782bd7a1d4d0744148dc0460ea94da74763f2",
                   checksum_source="git blob id of kuandeng/LightGCN Data/gowalla/train.txt"),
            Remote("https://raw.githubusercontent.com/kuandeng/LightGCN/master/Data/gowalla/test.txt",
                   "test.txt", sha256="099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3",
                   size=1372559, checksum_source="shared/datasets README (copy from kuandeng/LightGCN)"),
        ),
        main_file="train.txt",
        licence="no licence in the source repositories; raw data SNAP loc-gowalla (Cho et al., KDD 2011)",
        homepage="https://github.com/kuandeng/LightGCN",
    ),
    Entry(
        "citeulike-a",
        "CiteULike-a (Wang & Blei 2011): 204,986 user-article pairs, 5,551 users, 16,980 articles",
        _reader("users.dat", _citeulike, "citeulike-a"),
        remotes=(Remote("https://raw.githubusercontent.com/js05212/citeulike-a/master/users.dat",
                        "users.dat",
                        sha256="53211d82c14ff261e595634d285ed9fbf8049cf81dcb751d924d695b9612a02c",
                        size=1094785, checksum_source="shared/datasets README (copy from js05212/citeulike-a)"),),
        main_file="users.dat",
        licence="no licence file in the source repository; cite Wang, Chen & Li, IJCAI 2013",
        homepage="https://github.com/js05212/citeulike-a",
    ),
    Entry(
        "frappe",
        "Frappe context-aware app usage log (Baltrunas et al. 2015): 96,203 entries, 957 users, 4,082 apps",
        None,
        remotes=(Remote("https://www.baltrunas.info/_files/archives/be17b7_474755a5e9684a749a012516d04fb456.zip?dn=Mobile_Frappe.zip",
                        "Mobile_Frappe.zip",
                        sha256="4adc616de57170f282397f6e6e30215f97fa7ad1b7f40bd12ef5dceaaf3e9b4e",
                        size=3372404,
                        checksum_source="shared/datasets README; also pinned by an independent loader (omnirec)",
                        extract=True),),
        subdir="Mobile_Frappe", licence="research use; no redistribution; no commercial use without permission",
        kind="features", homepage="https://arxiv.org/abs/1505.03014",
    ),
    Entry(
        "criteo",
        "Criteo Display Advertising Challenge (Kaggle): 45,840,617 rows, label + 13 numeric + 26 categorical",
        None,
        remotes=(Remote("https://go.criteo.net/criteo-research-kaggle-display-advertising-challenge-dataset.tar.gz",
                        "criteo-research-kaggle-display-advertising-challenge-dataset.tar.gz",
                        extract=True),),
        main_file="train.txt",
        licence="Criteo Data Terms of Use: non-commercial use only; do not distribute",
        kind="features", homepage="https://ailab.criteo.com/ressources/",
        notes=("No independently published checksum of the archive was found: the download "
               "needs allow_unverified=True; prefer path= with a local copy.",),
    ),
    Entry(
        "open-bandit",
        "Open Bandit Dataset (ZOZOTOWN; Saito et al., NeurIPS 2021): logged bandit feedback, "
        "random and BTS policies, 3 campaigns",
        None,
        remotes=(Remote("https://research.zozo.com/data_release/open_bandit_dataset.zip",
                        "open_bandit_dataset.zip",
                        sha256="e8ec18196582a5937381a1776382ca940689b90a18d2dcd1fb635be6df614d78",
                        size=412931917,
                        checksum_source="pinned by one independent public project's data lock "
                                        "(size matches the server's Content-Length reported elsewhere); "
                                        "not re-verified by recforge",
                        extract=True),),
        subdir="open_bandit_dataset", licence="CC BY 4.0 (attribution required)",
        kind="bandit", homepage="https://research.zozo.com/data_release/",
    ),
):
    ZOO[_e.name] = _e

# -- CTR readers (issue 5): FeatureLog readers live in recforge.data.ctr_readers --
ZOO["frappe"] = dataclasses.replace(ZOO["frappe"], reader="recforge.data.ctr_readers:zoo_frappe")
ZOO["criteo"] = dataclasses.replace(ZOO["criteo"], reader="recforge.data.ctr_readers:zoo_criteo")
ZOO["ml-100k-ctr"] = dataclasses.replace(
    ZOO["ml-100k"], name="ml-100k-ctr", reader="recforge.data.ctr_readers:zoo_movielens_ctr",
    kind="features", description="MovieLens 100K as CTR: label rating >= 4; user, item, age, gender, "
    "occupation, genre flags, year",
)

# -- off-policy evaluation (issue 8): BanditLog reader in recforge.ope.open_bandit; the
# 10,000-round samples (campaign all) are embedded, the full release needs path= --
ZOO["open-bandit"] = dataclasses.replace(
    ZOO["open-bandit"], reader="recforge.ope.open_bandit:read_open_bandit",
    embedded=Path(__file__).parent / "embedded" / "open-bandit",
)
