"""``recforge fit`` and ``recforge evaluate``."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from recforge.commands._common import cli_errors, load_data, print_json, quiet

DataOpt = Annotated[str, typer.Option("--data", help="Zoo name (ml-100k, gowalla, ...), imported dataset dir, or file.")]
PathOpt = Annotated[str | None, typer.Option("--path", help="Local directory with the dataset's official files.")]
SplitOpt = Annotated[str, typer.Option("--split", help="random:0.8,0.1,0.1 | leave-last:1 | temporal:0.8,0.1 | user-holdout:0.1,0.1 | files:TRAIN[,VALID],TEST")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (split and model).")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="Model hyperparameter KEY=VALUE (repeatable).")]
FieldsOpt = Annotated[str | None, typer.Option("--fields", help="CTR feature-log file: field spec, e.g. 'label=click;cat=user,ad;num=price:log'.")]


def prepare(data: str, path: str | None, split: str, seed: int) -> Any:
    from recforge import split as splitmod

    ds = load_data(data, path, split)
    return splitmod.apply(ds, split, seed=seed)


def build_model(model: str, params: list[str] | None, seed: int) -> Any:
    from recforge import registry
    from recforge.config import parse_params

    cls = registry.get(model)
    kv: dict[str, Any] = parse_params(params)
    if "seed" in cls.config_class.field_names() and "seed" not in kv:
        kv["seed"] = seed
    return cls(**kv)


def register(app: typer.Typer) -> None:
    @app.command("fit")
    def fit(
        data: DataOpt,
        split: SplitOpt,
        model: Annotated[str, typer.Option("--model", help="Registered model name (see 'recforge models').")],
        out: Annotated[str, typer.Option("--out", help="Artifact directory to write (atomically).")],
        path: PathOpt = None,
        seed: SeedOpt = 0,
        param: ParamOpt = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
        fields: FieldsOpt = None,
    ) -> None:
        """Fit a model on the training part of a split and save it as an artifact."""
        quiet(json_out)
        with cli_errors():
            from recforge import _progress
            from recforge.artifacts import save
            from recforge.commands import ctr

            if ctr.is_ctr(data, model, None, fields):  # CTR models on feature logs (issue 5)
                res = ctr.fit(data, path, split, seed, model, param, out, fields)
                if json_out:
                    print_json(res)
                else:
                    typer.echo(f"fitted {res['model']} in {res['fit_seconds']:.2f}s; saved to {out}")
                return

            m = build_model(model, param, seed)
            parts = prepare(data, path, split, seed)
            _progress.log(f"fitting {m!r} on {parts.train}")
            m.fit(parts.train, parts.valid)
            save(m, out, metadata={"data": data, "split": split, "seed": seed})
            res = {"model": m.name, "config": m.config.to_dict(), "fit_seconds": m.fit_seconds_, "out": out}
            if json_out:
                print_json(res)
            else:
                typer.echo(f"fitted {m.name} in {m.fit_seconds_:.2f}s; saved to {out}")

    @app.command("evaluate")
    def evaluate(
        data: DataOpt,
        split: SplitOpt,
        metrics: Annotated[str, typer.Option("--metrics", help="Comma-separated, e.g. ndcg@10,recall@20,auc,coverage@10.")] = "ndcg@10,recall@20",
        model: Annotated[str | None, typer.Option("--model", help="Model to fit on the training part.")] = None,
        artifact: Annotated[str | None, typer.Option("--artifact", help="Evaluate a saved artifact instead of fitting.")] = None,
        path: PathOpt = None,
        seed: SeedOpt = 0,
        param: ParamOpt = None,
        on: Annotated[str, typer.Option("--on", help="Which part to evaluate on: test or valid.")] = "test",
        sampled: Annotated[int | None, typer.Option("--sampled", help="Rank among N sampled negatives (labelled 'sampled'); default is full ranking.")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
        fields: FieldsOpt = None,
    ) -> None:
        """Fit (or load) a model and evaluate it with full-ranking top-K metrics (CTR metrics for CTR models)."""
        quiet(json_out)
        with cli_errors():
            from recforge import _progress
            from recforge.commands import ctr
            from recforge.errors import ConfigError
            from recforge.evaluation import evaluate as run_eval
            from recforge.evaluation import parse_metrics

            if ctr.is_ctr(data, model, artifact, fields):  # CTR models on feature logs (issue 5)
                ctr_res = ctr.evaluate(data, path, split, seed,
                                       ctr.DEFAULT_METRICS if metrics == "ndcg@10,recall@20" else metrics,
                                       model, artifact, param, on, fields)
                if json_out:
                    print_json(ctr_res)
                else:
                    typer.echo(f"{ctr_res['model']} on {data} ({split}, {on}, {ctr_res['n_rows']:,} rows): "
                               + ", ".join(f"{k}={v:.4f}" for k, v in ctr_res["metrics"].items()))
                return

            if (model is None) == (artifact is None):
                raise ConfigError("give exactly one of --model NAME or --artifact DIR")
            if on not in ("test", "valid"):
                raise ConfigError(f"--on must be 'test' or 'valid', got {on!r}")
            parse_metrics(metrics)
            parts = prepare(data, path, split, seed)
            target = parts.test if on == "test" else parts.valid
            if target is None:
                raise ConfigError(f"split {split!r} has no validation part")
            if artifact is not None:
                from recforge.artifacts import load

                m = load(artifact)
                if m.train_.n_items != parts.train.n_items or not (m.train_.item_ids == parts.train.item_ids).all():
                    raise ConfigError(f"artifact {artifact} was trained on another dataset/vocabulary")
                fit_seconds = None
            else:
                m = build_model(model, param, seed)  # type: ignore[arg-type]
                _progress.log(f"fitting {m!r} on {parts.train}")
                t0 = time.perf_counter()
                m.fit(parts.train, parts.valid if on == "test" else None)
                fit_seconds = time.perf_counter() - t0
            exclude = parts.train if on == "valid" or parts.valid is None else parts.train.concat(parts.valid)
            if target.history is not None:
                exclude = None
            res = run_eval(m, target, train=exclude, metrics=metrics, sampled=sampled, progress=not json_out)
            out = {**res.to_dict(), "model": m.name, "config": m.config.to_dict(),
                   "fit_seconds": fit_seconds, "data": data, "split": split, "on": on, "seed": seed}
            if json_out:
                print_json(out)
                return
            from rich.console import Console
            from rich.table import Table

            t = Table(title=f"{m.name} on {data} ({split}, {on}, {res.protocol}, {res.n_users:,} users)")
            t.add_column("metric")
            t.add_column("value", justify="right")
            for k, v in res.metrics.items():
                t.add_row(k, f"{v:.4f}")
            Console().print(t)

    @app.command("models")
    def models_(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
        """List registered models with their hyperparameters and defaults."""
        with cli_errors():
            from recforge import registry

            rows = []
            for name in registry.names():
                cls = registry.get(name)
                rows.append({"name": name, "tags": sorted(cls.tags),
                             "params": cls.config_class().to_dict()})
            if json_out:
                print_json(rows)
                return
            for r in rows:
                params = ", ".join(f"{k}={v}" for k, v in r["params"].items())
                typer.echo(f"{r['name']:<16} [{', '.join(r['tags'])}]  {params}")
