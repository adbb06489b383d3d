"""Open Bandit comparison: estimate Bernoulli-TS's click rate from the random policy's logs.

obp's quickstart protocol (examples/quickstart/obd.ipynb): the evaluation policy is the
production Bernoulli-TS replica (ZOZOTOWN prior, 100,000 simulations, seed 12345); the reward
model a logistic regression per position with 3-fold cross-fitting; the ground truth is the
mean click rate in Bernoulli-TS's own logs (on-policy). Relative error = |V_hat - V| / V.

Run from the repo root with the project venv::

    python benchmarks/ope_open_bandit.py [--obp-python /work/peers/obp/bin/python]

When the obp peer venv exists, obp is run in the same invocation (as a subprocess, since it
cannot share the project's environment) and its numbers and timings are printed next to
recforge's; otherwise the committed reference (tests/ope/data/obp_reference.json, produced by
benchmarks/ope_vs_obp.py) is used and the output says so.

``--synthetic`` adds the coverage study on the synthetic generator (100 seeds).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = {"ipw": 0.084, "dm": 0.156, "dr": 0.126}  # obp quickstart (obd.ipynb)
NAMES = ["ipw", "snipw", "dm", "dr", "sndr", "switch-dr", "dr-os"]


def obp_reference(obp_python: str | None, data: Path) -> tuple[dict, str]:
    if obp_python and Path(obp_python).exists():
        out = Path(tempfile.mkdtemp()) / "obp.json"
        t0 = time.perf_counter()
        subprocess.run([obp_python, str(REPO / "benchmarks" / "ope_vs_obp.py"), "--data",
                        str(data), "--out", str(out)], check=True, capture_output=True)
        return json.loads(out.read_text()), f"obp run now ({time.perf_counter() - t0:.1f} s)"
    ref = REPO / "tests" / "ope" / "data" / "obp_reference.json"
    return json.loads(ref.read_text()), f"committed reference {ref.relative_to(REPO)}"


def open_bandit(args: argparse.Namespace) -> None:
    from sklearn.linear_model import LogisticRegression

    import recforge as rf
    from recforge.metrics import ope
    from recforge.ope import RewardModel, bernoulli_ts_probs, zozotown_prior

    logs = rf.datasets.load("open-bandit", behavior_policy="random", campaign="all")
    truth = rf.datasets.load("open-bandit", behavior_policy="bts", campaign="all").on_policy_value()
    t0 = time.perf_counter()
    probs = bernoulli_ts_probs(*zozotown_prior("all"), len_list=3, n_sim=100_000, seed=12345)
    bts_s = time.perf_counter() - t0
    pi = np.broadcast_to(probs, (logs.n_rounds, logs.n_actions, logs.len_list))
    models = {
        "quickstart": LogisticRegression(max_iter=1000, random_state=12345),
        "default": None,
    }
    q, fit_s = {}, {}
    for key, base in models.items():
        t0 = time.perf_counter()
        q[key] = RewardModel(n_actions=logs.n_actions, len_list=logs.len_list,
                             action_context=logs.action_context, base_model=base, n_folds=3,
                             seed=12345).fit_predict(logs)
        fit_s[key] = time.perf_counter() - t0
    est = {}
    for key in models:
        res = ope.estimate(NAMES, reward=logs.reward, action=logs.action, pscore=logs.pscore,
                           action_dist=pi, position=logs.position, estimated_rewards=q[key],
                           n_bootstrap=args.n_bootstrap, seed=12345)
        est[key] = res
    ref, how = obp_reference(args.obp_python, Path(args.data))
    o = ref["obd"]
    obp_rows = {r["estimator"]: r for r in o["pipeline"]["estimates"]
                if r["param"] is None or (r["estimator"] == "dr-os" and r["param"] == 0.0)}
    obp_tight = {r["estimator"]: r for r in o["pipeline_tight"]["estimates"]
                 if r["param"] is None or (r["estimator"] == "dr-os" and r["param"] == 0.0)}

    print(f"Open Bandit sample, campaign all: evaluate Bernoulli-TS (ZOZOTOWN prior) on "
          f"{logs.n_rounds:,} rounds logged by the random policy")
    print(f"ground truth = Bernoulli-TS's own mean click rate: {truth:.6f}; "
          f"random policy's: {logs.on_policy_value():.6f}")
    print(f"obp numbers: {how}; obp {ref['obp_version']}, scikit-learn {ref['sklearn_version']}")
    print("reward model: logistic regression per position, 3-fold cross-fitting, seed 12345;")
    print("  (a) obp quickstart settings: lbfgs, max_iter=1000 (default tol)")
    print("  (b) recforge default: newton-cg, tol=1e-10 (solved to the optimum)")
    print("dr-os: recforge default shrinkage = inf (= DR); obp's default lambda_=0 (= DM), "
          "shown for obp in its column\n")
    hdr = (f"| estimator | recforge (a) value | rel. error (a) | obp (a) rel. error | "
           f"recforge (b) rel. error | obp (b) rel. error | published (obp quickstart) | "
           f"{100 - 5}% interval (a) |")
    print(hdr)
    print("|" + "---|" * 8)
    for name in NAMES:
        ra, rb = est["quickstart"][name], est["default"][name]
        rel_a = abs(ra.value - truth) / truth
        rel_b = abs(rb.value - truth) / truth
        oa = obp_rows.get(name)
        ob = obp_tight.get(name)
        obp_a = f"{oa['relative_error']:.4f}" if oa and name != "dr-os" else "—"
        obp_b = f"{abs(ob['value'] - truth) / truth:.4f}" if ob and name != "dr-os" else "—"
        pub = f"{PUBLISHED[name]:.3f}" if name in PUBLISHED else "—"
        print(f"| {name} | {ra.value:.6f} | {rel_a:.4f} | {obp_a} | {rel_b:.4f} | {obp_b} | "
              f"{pub} | [{ra.lower:.6f}, {ra.upper:.6f}] |")
    print()
    diffs = [abs(est["default"][n].value - obp_tight[n]["value"]) for n in NAMES if n != "dr-os"]
    diffs_a = [abs(est["quickstart"][n].value - obp_rows[n]["value"]) for n in NAMES
               if n != "dr-os"]
    print(f"max |recforge - obp| over estimators: (b) tight reward model {max(diffs):.2e}; "
          f"(a) quickstart settings {max(diffs_a):.2e} (scikit-learn versions stop lbfgs "
          "at different points)")
    print(f"BTS replica, 100,000 simulations: recforge {bts_s:.2f} s vs obp loop "
          f"{o['bts_seconds']:.2f} s ({o['bts_seconds'] / bts_s:.1f}x); "
          f"identical probabilities: {np.array_equal(probs, np.asarray(o['bts_action_dist']))}")
    print(f"reward model (3 folds x 3 positions): recforge (a) {fit_s['quickstart']:.2f} s, "
          f"(b) {fit_s['default']:.2f} s; obp (a) {o['pipeline']['reward_model_seconds']:.2f} s, "
          f"(b) {o['pipeline_tight']['reward_model_seconds']:.2f} s "
          "(obp timings from the run above or the reference file)")


def synthetic(args: argparse.Namespace) -> None:
    from recforge.metrics import ope
    from recforge.ope import synthetic_bandit

    names = ["ipw", "snipw", "dr", "sndr", "dm"]
    cover = {n: 0 for n in names}
    err: dict[str, list[float]] = {n: [] for n in names}
    t0 = time.perf_counter()
    for seed in range(100):
        sim = synthetic_bandit(n_rounds=1000, n_actions=5, len_list=2, n_users=50,
                               behavior_beta=0.5, seed=seed)
        pi = sim.softmax_policy(beta=5.0)
        truth = sim.true_value(pi)
        noise = np.random.default_rng(10_000 + seed).normal(0, 0.05, sim.expected_reward.shape)
        q_hat = np.clip(sim.expected_reward + noise, 0, 1)[sim.user_codes]
        log = sim.log
        res = ope.estimate(names, reward=log.reward, action=log.action, pscore=log.pscore,
                           action_dist=sim.action_dist(pi), position=log.position,
                           estimated_rewards=q_hat, n_bootstrap=500, seed=seed)
        for n, r in res.items():
            cover[n] += int(r.lower <= truth <= r.upper)
            err[n].append(r.value - truth)
    print(f"\nsynthetic generator, 100 seeds x 1,000 rounds (5 actions, 2 positions), "
          f"reward model = true q + N(0, 0.05) noise, 500 bootstrap resamples "
          f"({time.perf_counter() - t0:.1f} s)")
    print("| estimator | 95% interval covers truth | mean error (bias) | std. error of bias | "
          "variance |")
    print("|---|---|---|---|---|")
    for n in names:
        e = np.asarray(err[n])
        print(f"| {n} | {cover[n]}/100 | {e.mean():+.5f} | {e.std(ddof=1) / 10:.5f} | "
              f"{e.var():.3e} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--obp-python", default="/work/peers/obp/bin/python")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "datasets" /
                                          "open-bandit-sample"))
    ap.add_argument("--n-bootstrap", type=int, default=10_000)
    ap.add_argument("--synthetic", action="store_true")
    args = ap.parse_args()
    open_bandit(args)
    if args.synthetic:
        synthetic(args)


if __name__ == "__main__":
    main()
