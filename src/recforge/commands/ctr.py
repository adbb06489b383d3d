"""The CTR path of ``recforge fit`` / ``recforge evaluate`` (called from commands/models.py).

Used when the model is a CTR model (``lr``, ``fm``, ``wide-deep``, ``deepfm``, ``dcn-v2``,
``dlrm``), the data is a CTR zoo dataset (``frappe``, ``criteo``, ``ml-100k-ctr``), a field
specification is given (``--fields``), or the artifact is a CTR artifact.

Splits of a feature log: ``random:TRAIN,VALID,TEST`` (row-level, seeded) or
``temporal:TRAIN,VALID[,TEST]`` (by the log's time column). Metrics: ``auc``, ``logloss``,
``gauc`` (group AUC per user), ``calibration``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from recforge.errors import ConfigError, DataError

CTR_DATASETS = ("frappe", "criteo", "ml-100k-ctr")
DEFAULT_METRICS = "auc,logloss"
_READERS = {
    "frappe": "zoo_frappe",
    "criteo": "zoo_criteo",
    "ml-100k-ctr": "zoo_movielens_ctr",
}


def is_ctr(data: str, model: str | None = None, artifact: str | None = None,
           fields: str | None = None) -> bool:
    """Whether a fit/evaluate call belongs to the CTR path."""
    if fields:
        return True
    if data.strip().lower() in CTR_DATASETS:
        return True
    if model is not None:
        from recforge import registry

        try:
            return registry.canonical(model) in registry.names("ctr")
        except ConfigError:
            return False
    if artifact is not None:
        from recforge.models.ctr.artifact import is_ctr_artifact

        return is_ctr_artifact(artifact)
    return False


def load_log(data: str, path: str | None, fields: str | None) -> Any:
    """A FeatureLog from a CTR zoo name (with ``--path``) or a file with a field spec."""
    from recforge.data import ctr_readers

    key = data.strip().lower()
    if key in CTR_DATASETS:
        if fields:
            raise ConfigError(f"--fields is for feature-log files; {data} has a fixed schema")
        from recforge.datasets import _zoo

        base = "ml-100k" if key == "ml-100k-ctr" else key
        entry = _zoo.ZOO.get(key) or _zoo.ZOO[base]
        root = entry.locate(path)
        return getattr(ctr_readers, _READERS[key])(root)
    p = Path(data)
    if not p.exists():
        raise ConfigError(f"DATA {data!r} is neither a CTR dataset ({', '.join(CTR_DATASETS)}) nor an existing file")
    if fields is None:
        side = p.with_suffix(".spec.json")
        if not side.exists():
            raise ConfigError(
                f"{p}: a CTR model needs a field specification: pass --fields "
                "'label=COL;cat=A,B;num=X:log' (or keep a {stem}.spec.json next to a Parquet file)"
            )
        import json

        from recforge.data.features import FeatureLog, Field

        spec = json.loads(side.read_text())
        df, _ = __import__("recforge.data.readers", fromlist=["read_table"]).read_table(p)
        flds = [Field(**f) for f in spec["fields"]]
        return FeatureLog.from_frame(df, label=spec["label"], categorical=[f for f in flds if f.kind == "categorical"],
                                     numeric=[f for f in flds if f.kind == "numeric"], group=spec.get("group"),
                                     time=spec.get("time"), name=p.stem, source=str(p))
    return ctr_readers.read_feature_table(p, fields)


def split_log(log: Any, split: str, seed: int) -> tuple[Any, Any, Any]:
    """(train, valid, test) of a FeatureLog for ``random:...`` or ``temporal:...`` specs."""
    kind, _, rest = split.strip().partition(":")
    kind = kind.lower()
    try:
        fr = [float(x) for x in rest.split(",") if x.strip()] if rest else [0.8, 0.1, 0.1]
    except ValueError as exc:
        raise ConfigError(f"--split {split!r}: fractions must be numbers, e.g. random:0.8,0.1,0.1") from exc
    if kind not in ("random", "temporal"):
        raise ConfigError(f"--split {split!r}: feature logs support random:TRAIN,VALID,TEST and "
                          "temporal:TRAIN,VALID[,TEST]")
    if len(fr) == 2:
        fr.append(1.0 - sum(fr))
    if len(fr) != 3 or min(fr) <= 0 or abs(sum(fr) - 1) > 1e-6:
        raise ConfigError(f"--split {split!r}: give three positive fractions summing to 1 (or two below 1)")
    parts = log.random_split(fr, seed=seed) if kind == "random" else log.temporal_split(fr)
    return parts[0], parts[1], parts[2]


def _build(model: str, params: list[str] | None, seed: int) -> Any:
    from recforge import registry
    from recforge.commands.models import build_model

    if registry.canonical(model) not in registry.names("ctr"):
        raise ConfigError(f"model {model!r} is a top-K recommender; for feature logs use one of "
                          f"{', '.join(registry.names('ctr'))}")
    return build_model(model, params, seed)


def fit(data: str, path: str | None, split: str, seed: int, model: str, params: list[str] | None,
        out: str, fields: str | None) -> dict[str, Any]:
    """Fit a CTR model on the training part and save it; returns the JSON result."""
    from recforge import _progress
    from recforge.models.ctr.artifact import save_ctr

    m = _build(model, params, seed)
    log = load_log(data, path, fields)
    train, valid, _ = split_log(log, split, seed)
    _progress.log(f"fitting {m!r} on {train}")
    m.fit(train, valid)
    save_ctr(m, out, metadata={"data": data, "split": split, "seed": seed, "fields": fields})
    return {"model": m.name, "config": m.config.to_dict(), "fit_seconds": m.fit_seconds_,
            "best_epoch": m.best_epoch_, "valid_auc": m.history_[m.best_epoch_ - 1].metric if m.history_ else None,
            "out": out}


def evaluate(data: str, path: str | None, split: str, seed: int, metrics: str, model: str | None,
             artifact: str | None, params: list[str] | None, on: str, fields: str | None) -> dict[str, Any]:
    """Fit (or load) a CTR model and compute CTR metrics on the test (or valid) part."""
    from recforge import _progress
    from recforge.metrics.classification import compute, metric_names

    names = [m.strip().lower() for m in metrics.split(",") if m.strip()]
    bad = [m for m in names if m not in (*metric_names(), "group_auc")]
    if bad:
        raise ConfigError(f"metrics {bad} are not CTR metrics; valid ones are {', '.join(metric_names())}")
    if (model is None) == (artifact is None):
        raise ConfigError("give exactly one of --model NAME or --artifact DIR")
    if on not in ("test", "valid"):
        raise ConfigError(f"--on must be 'test' or 'valid', got {on!r}")
    log = load_log(data, path, fields)
    train, valid, test = split_log(log, split, seed)
    target = test if on == "test" else valid
    if artifact is not None:
        from recforge.models.ctr.artifact import load_ctr

        m = load_ctr(artifact)
        if [f.name for f in m.vocab_.fields] != log.field_names:
            raise DataError(f"artifact {artifact} was trained on fields {[f.name for f in m.vocab_.fields]}, "
                            f"this data has {log.field_names}")
        fit_seconds = None
    else:
        m = _build(model, params, seed)  # type: ignore[arg-type]
        _progress.log(f"fitting {m!r} on {train}")
        t0 = time.perf_counter()
        m.fit(train, valid if on == "test" else None)
        fit_seconds = time.perf_counter() - t0
    enc = m.encode(target)
    t0 = time.perf_counter()
    prob = m.predict_proba(enc)
    predict_seconds = time.perf_counter() - t0
    values = compute(names, enc.label, prob, enc.group)
    return {"metrics": values, "n_rows": len(enc), "positive_rate": float(enc.label.mean()),
            "model": m.name, "config": m.config.to_dict(), "fit_seconds": fit_seconds,
            "predict_seconds": predict_seconds, "data": data, "split": split, "on": on, "seed": seed}
