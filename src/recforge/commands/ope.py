"""``recforge ope``: estimate a policy's online value from logged bandit feedback."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from recforge.commands._common import cli_errors, print_json, quiet


def _split(s: str | None) -> list[str]:
    return [p.strip() for p in s.split(",") if p.strip()] if s else []


def register(app: typer.Typer) -> None:
    @app.command("ope")
    def ope_cmd(
        logs: Annotated[str, typer.Option(help="Logged feedback: 'open-bandit' (zoo) or a CSV/TSV/Parquet file (.xz/.gz ok).")],
        policy: Annotated[str, typer.Option(help="Policy to evaluate: uniform | logged | bts[,campaign=all,n_sim=100000,seed=12345] | artifact:DIR[,mode=deterministic|softmax,temperature=T].")],
        estimators: Annotated[str, typer.Option(help="Comma-separated: ipw,snipw,dm,dr,sndr,switch-dr,dr-os.")] = "ipw,snipw,dm,dr",
        path: Annotated[str | None, typer.Option(help="Local copy of a zoo dataset's official files.")] = None,
        behavior_policy: Annotated[str, typer.Option(help="open-bandit: which logger's data (random | bts).")] = "random",
        campaign: Annotated[str, typer.Option(help="open-bandit: campaign (all | men | women; the embedded sample has all).")] = "all",
        action: Annotated[str | None, typer.Option(help="File logs: action (item) id column [item_id, action, item].")] = None,
        reward: Annotated[str | None, typer.Option(help="File logs: reward column [click, reward].")] = None,
        pscore: Annotated[str | None, typer.Option(help="File logs: logging propensity column [propensity_score, pscore].")] = None,
        position: Annotated[str | None, typer.Option(help="File logs: position column [position] (omit for one slot).")] = None,
        context: Annotated[str | None, typer.Option(help="File logs: numeric context columns, comma-separated.")] = None,
        categorical_context: Annotated[str | None, typer.Option(help="File logs: categorical context columns (one-hot), comma-separated.")] = None,
        user: Annotated[str | None, typer.Option(help="File logs: user id column (needed by artifact: policies) [user, user_id].")] = None,
        non_binary_reward: Annotated[bool, typer.Option("--non-binary-reward", help="Allow real-valued rewards (default: 0/1 clicks).")] = False,
        n_folds: Annotated[int, typer.Option(help="Cross-fitting folds of the reward model (DM/DR...).")] = 3,
        clip: Annotated[float | None, typer.Option(help="Clip importance weights at this value (ipw, dr).")] = None,
        switch_threshold: Annotated[float | None, typer.Option(help="switch-dr: weight threshold (default inf = DR).")] = None,
        shrinkage: Annotated[float | None, typer.Option(help="dr-os: shrinkage lambda (default inf = DR).")] = None,
        n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 1000,
        alpha: Annotated[float, typer.Option(help="Interval level is 1 - alpha.")] = 0.05,
        seed: Annotated[int, typer.Option(help="Seed of folds, bootstrap and policy simulation.")] = 12345,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    ) -> None:
        """Off-policy evaluation: estimated value (e.g. click rate) of POLICY with intervals."""
        quiet(json_out)
        with cli_errors():
            result = run_ope(
                logs=logs, policy=policy, estimators=_split(estimators), path=path,
                behavior_policy=behavior_policy, campaign=campaign,
                mapping={"action": action, "reward": reward, "pscore": pscore,
                         "position": position, "context": _split(context),
                         "categorical_context": _split(categorical_context), "user": user},
                binary_reward=not non_binary_reward, n_folds=n_folds,
                params={"ipw": clip, "dr": clip, "switch-dr": switch_threshold,
                        "dr-os": shrinkage},
                n_bootstrap=n_bootstrap, alpha=alpha, seed=seed,
            )
            if json_out:
                print_json(result)
            else:
                _print_table(result)


def _load_logs(logs: str, path: str | None, behavior_policy: str, campaign: str,
               mapping: dict[str, Any], binary_reward: bool) -> Any:
    from pathlib import Path

    from recforge import datasets
    from recforge.data.bandit import BanditLog, read_bandit_log, read_log_frame
    from recforge.errors import ConfigError, DataError

    key = logs.strip().lower()
    if key in datasets.names():
        data = datasets.load(key, path=path, behavior_policy=behavior_policy, campaign=campaign)
        if not isinstance(data, BanditLog):
            raise ConfigError(f"--logs {logs!r} is not logged bandit feedback (it has no "
                              "propensities); use open-bandit or a log file")
        return data
    p = Path(logs)
    if not p.exists():
        raise ConfigError(f"--logs {logs!r} is neither a bandit dataset of the zoo (open-bandit) "
                          "nor an existing file")
    cols = read_log_frame(p).columns
    lower = {c.lower(): c for c in cols}

    def pick(given: str | None, role: str, *names: str) -> str | None:
        if given:
            return given
        for n in names:
            if n in lower:
                return lower[n]
        if role in ("action", "reward", "pscore"):
            raise DataError(f"{p}: cannot find the {role} column among {cols}; pass --{role} COL")
        return None

    del BanditLog
    return read_bandit_log(
        p,
        action=pick(mapping["action"], "action", "item_id", "action", "item"),
        reward=pick(mapping["reward"], "reward", "click", "reward"),
        pscore=pick(mapping["pscore"], "pscore", "propensity_score", "pscore", "propensity"),
        position=pick(mapping["position"], "position", "position"),
        context=mapping["context"] or None,
        categorical_context=mapping["categorical_context"] or None,
        user=pick(mapping["user"], "user", "user", "user_id"),
        binary_reward=binary_reward,
    )


def run_ope(*, logs: str, policy: str, estimators: list[str], path: str | None = None,
            behavior_policy: str = "random", campaign: str = "all",
            mapping: dict[str, Any] | None = None, binary_reward: bool = True,
            n_folds: int = 3, params: dict[str, float | None] | None = None,
            n_bootstrap: int = 1000, alpha: float = 0.05, seed: int = 12345) -> dict[str, Any]:
    """The work of ``recforge ope``; returns the JSON-ready result."""
    import time

    import numpy as np

    from recforge.errors import ConfigError, DataError
    from recforge.metrics import ope as est
    from recforge.ope import policies

    start = time.perf_counter()
    names = [e.strip().lower().replace("_", "-") for e in estimators]
    if not names:
        raise ConfigError("--estimators is empty; give e.g. ipw,snipw,dm,dr")
    bad = [e for e in names if e not in est.ESTIMATORS]
    if bad:
        raise ConfigError(f"unknown estimator {bad[0]!r}; valid names are: "
                          f"{', '.join(est.ESTIMATORS)}")
    if n_bootstrap < 1:
        raise ConfigError(f"--n-bootstrap must be >= 1, got {n_bootstrap}")
    kind, opts = policies.parse_policy(policy)
    mapping = mapping or {"action": None, "reward": None, "pscore": None, "position": None,
                          "context": [], "categorical_context": [], "user": None}
    log = _load_logs(logs, path, behavior_policy, campaign, mapping, binary_reward)
    info: dict[str, Any] = {}
    if kind == "uniform":
        action_dist = policies.uniform(log.n_rounds, log.n_actions, log.len_list)
    elif kind == "logged":
        action_dist = policies.logged_replica(log)
    elif kind == "bts":
        camp = opts.get("campaign", campaign)
        alpha_p, beta_p = policies.zozotown_prior(camp)
        if alpha_p.shape[0] != log.n_actions:
            raise DataError(f"the ZOZOTOWN prior of campaign {camp!r} has {alpha_p.shape[0]} "
                            f"actions but the log has {log.n_actions}; pass bts,campaign=...")
        action_dist = policies.bernoulli_ts(log.n_rounds, alpha_p, beta_p, log.len_list,
                                            n_sim=opts.get("n_sim", 100_000),
                                            seed=opts.get("seed", seed))
        info = {"prior": f"zozotown/{camp}", "n_sim": opts.get("n_sim", 100_000)}
    else:  # artifact
        from recforge.artifacts import load

        if log.user is None:
            raise DataError("artifact: policies need a user id per round; pass --user COL")
        model = load(opts["path"])
        action_dist, info = policies.from_recommender(
            model, log.user, log.action_ids, log.len_list, mode=opts["mode"],
            temperature=opts["temperature"])
        info["mode"] = opts["mode"]
        if opts["mode"] == "softmax":
            info["temperature"] = opts["temperature"]
    q_hat = None
    reward_model: dict[str, Any] | None = None
    if any(n in est.MODEL_BASED for n in names):
        from recforge.ope.reward_model import RewardModel

        t0 = time.perf_counter()
        q_hat = RewardModel(n_actions=log.n_actions, len_list=log.len_list,
                            action_context=log.action_context, n_folds=n_folds,
                            seed=seed).fit_predict(log)
        reward_model = {"model": "LogisticRegression(newton-cg)", "n_folds": n_folds,
                        "features": "context + " + ("action features" if log.action_context
                                                    is not None else "one-hot action"),
                        "seconds": round(time.perf_counter() - t0, 3)}
    pmap = {k: float(v) for k, v in (params or {}).items() if v is not None}
    results = est.estimate(names, reward=log.reward, action=log.action, pscore=log.pscore,
                           action_dist=action_dist, position=log.position,
                           estimated_rewards=q_hat, params=pmap, alpha=alpha,
                           n_bootstrap=n_bootstrap, seed=seed)
    on_policy = log.on_policy_value()
    return {
        "logs": log.name or logs,
        "n_rounds": log.n_rounds,
        "n_actions": log.n_actions,
        "len_list": log.len_list,
        "policy": policy,
        "policy_info": info,
        "logged_policy_value": on_policy,
        "estimates": {
            k: {"value": r.value, "lower": r.lower, "upper": r.upper,
                "relative_to_logged": (r.value / on_policy) if on_policy else None,
                **({"param": pmap[k]} if k in pmap else {})}
            for k, r in results.items()
        },
        "level": 1.0 - alpha,
        "n_bootstrap": n_bootstrap,
        "reward_model": reward_model,
        "max_importance_weight": float(np.max(
            action_dist[np.arange(log.n_rounds), log.action, log.position] / log.pscore)),
        "seconds": round(time.perf_counter() - start, 3),
    }


def _print_table(res: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    level = int(round(100 * res["level"]))
    t = Table(title=f"off-policy estimates of {res['policy']} on {res['logs']} "
                    f"({res['n_rounds']:,} rounds, {res['n_actions']} actions, "
                    f"{res['len_list']} positions)")
    t.add_column("estimator")
    t.add_column("value", justify="right")
    t.add_column(f"{level}% interval", justify="right")
    t.add_column("vs logged", justify="right")
    for name, r in res["estimates"].items():
        rel = r["relative_to_logged"]
        t.add_row(name, f"{r['value']:.6f}", f"[{r['lower']:.6f}, {r['upper']:.6f}]",
                  "" if rel is None else f"{rel:.3f}x")
    console = Console()
    console.print(t)
    console.print(f"logged policy's own value (mean reward): {res['logged_policy_value']:.6f}; "
                  f"largest importance weight {res['max_importance_weight']:.2f}")
