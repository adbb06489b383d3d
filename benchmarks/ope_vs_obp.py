"""Reference estimates from Open Bandit Pipeline (obp) for recforge's OPE tests.

Runs in the separate peer venv (obp pins old numpy/scikit-learn and cannot share the project
venv)::

    python3 -m venv /work/peers/obp && /work/peers/obp/bin/pip install --no-deps \
        --ignore-requires-python obp==0.5.7 && /work/peers/obp/bin/pip install numpy==1.23.5 \
        pandas==1.5.2 scikit-learn==1.1.3 scipy==1.9.3 pyyaml tqdm "matplotlib<3.9" \
        seaborn==0.11.2 torch==2.13.0
    /work/peers/obp/bin/python benchmarks/ope_vs_obp.py \
        --data ../shared/datasets/open-bandit-sample --out tests/ope/data/obp_reference.json

It writes obp's outputs on fixed inputs (the Open Bandit sample, random/all logs with the
Bernoulli-TS evaluation policy; and a small synthetic problem whose inputs are stored in the
JSON) to JSON. ``tests/ope/test_vs_obp.py`` recomputes everything with recforge and compares.
Nothing from recforge is imported here.
"""

from __future__ import annotations

import argparse
import json
import lzma
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import obp
from obp.dataset import OpenBanditDataset
from obp.ope import (
    DirectMethod,
    DoublyRobust,
    DoublyRobustWithShrinkage,
    InverseProbabilityWeighting,
    RegressionModel,
    SelfNormalizedDoublyRobust,
    SelfNormalizedInverseProbabilityWeighting,
    SwitchDoublyRobust,
)
from obp.policy import BernoulliTS
from sklearn.linear_model import LogisticRegression

N_BOOT = 1000
SEED = 12345


def estimators():
    """(recforge name, parameter or None, obp estimator)."""
    return [
        ("ipw", None, InverseProbabilityWeighting()),
        ("ipw", 4.0, InverseProbabilityWeighting(lambda_=4.0)),
        ("snipw", None, SelfNormalizedInverseProbabilityWeighting()),
        ("dm", None, DirectMethod()),
        ("dr", None, DoublyRobust()),
        ("dr", 4.0, DoublyRobust(lambda_=4.0)),
        ("sndr", None, SelfNormalizedDoublyRobust()),
        ("switch-dr", 3.0, SwitchDoublyRobust(lambda_=3.0)),
        ("switch-dr", None, SwitchDoublyRobust()),
        ("dr-os", 5.0, DoublyRobustWithShrinkage(lambda_=5.0)),
        ("dr-os", None, DoublyRobustWithShrinkage()),
    ]


def run_estimators(reward, action, position, pscore, action_dist, q_hat):
    out = []
    for name, param, est in estimators():
        kw = dict(reward=reward, action=action, position=position, pscore=pscore,
                  action_dist=action_dist, estimated_rewards_by_reg_model=q_hat)
        value = est.estimate_policy_value(**kw)
        ci = est.estimate_interval(**kw, alpha=0.05, n_bootstrap_samples=N_BOOT,
                                   random_state=SEED)
        lam = getattr(est, "lambda_", None)
        assert param is None or lam == param
        # record the parameter obp actually used (e.g. DR-os defaults to lambda_=0, i.e. DM)
        param = float(lam) if lam is not None and np.isfinite(lam) else None
        out.append({"estimator": name, "param": param, "value": float(value),
                    "bootstrap_mean": float(ci["mean"]),
                    "lower": float(ci["95.0% CI (lower)"]),
                    "upper": float(ci["95.0% CI (upper)"])})
    return out


def weighted_sums(x: np.ndarray) -> list[float]:
    """Order-sensitive fingerprints of an array: plain and row-index-weighted column sums."""
    x = np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1)
    w = np.arange(1, x.shape[0] + 1, dtype=np.float64)
    return [float(v) for v in np.r_[x.sum(axis=0), w @ x]]


def obd_section(data: Path) -> dict:
    tmp = Path(tempfile.mkdtemp())
    try:
        for pol in ("random", "bts"):
            for f in (data / pol / "all").iterdir():
                dest = tmp / pol / "all" / f.name.removesuffix(".xz")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(lzma.decompress(f.read_bytes()))
        ds = OpenBanditDataset(behavior_policy="random", campaign="all", data_path=tmp)
        bf = ds.obtain_batch_bandit_feedback()
        ground_truth = OpenBanditDataset.calc_on_policy_policy_value_estimate(
            behavior_policy="bts", campaign="all", data_path=tmp)
    finally:
        shutil.rmtree(tmp)
    n = bf["n_rounds"]
    t0 = time.perf_counter()
    policy = BernoulliTS(n_actions=ds.n_actions, len_list=ds.len_list, is_zozotown_prior=True,
                         campaign="all", random_state=SEED)
    action_dist = policy.compute_batch_action_dist(n_sim=100000, n_rounds=n)
    bts_seconds = time.perf_counter() - t0
    # fixed reward-model output, reproducible in any numpy (legacy RandomState stream)
    q_fixed = np.random.RandomState(7).uniform(0.0, 0.02, size=(n, ds.n_actions, ds.len_list))
    args = (bf["reward"], bf["action"], bf["position"], bf["pscore"], action_dist)
    fixed = run_estimators(*args, q_fixed)
    # obp quickstart pipeline: logistic regression, 3-fold cross-fitting
    t0 = time.perf_counter()
    reg = RegressionModel(n_actions=ds.n_actions, len_list=ds.len_list,
                          action_context=ds.action_context,
                          base_model=LogisticRegression(max_iter=1000, random_state=SEED))
    q_obp = reg.fit_predict(context=bf["context"], action=bf["action"], reward=bf["reward"],
                            position=bf["position"], pscore=bf["pscore"], n_folds=3,
                            random_state=SEED)
    reg_seconds = time.perf_counter() - t0
    pipeline = run_estimators(*args, q_obp)
    for row in pipeline:
        row["relative_error"] = abs(row["value"] - ground_truth) / ground_truth
    # the same pipeline with a logistic regression solved to tight tolerance: obp's pinned
    # scikit-learn (1.1) and recforge's differ in lbfgs' stopping point, not in the optimum
    t0 = time.perf_counter()
    tight = RegressionModel(n_actions=ds.n_actions, len_list=ds.len_list,
                            action_context=ds.action_context,
                            base_model=LogisticRegression(solver="newton-cg", tol=1e-10,
                                                          max_iter=1000, random_state=SEED))
    q_tight = tight.fit_predict(context=bf["context"], action=bf["action"], reward=bf["reward"],
                                position=bf["position"], pscore=bf["pscore"], n_folds=3,
                                random_state=SEED)
    tight_seconds = time.perf_counter() - t0
    tight_est = run_estimators(*args, q_tight)
    return {
        "pipeline_tight": {"reward_model": "LogisticRegression(solver='newton-cg', tol=1e-10, "
                                           "max_iter=1000, random_state=12345), per position, "
                                           "3-fold cross-fitting",
                           "reward_model_seconds": tight_seconds,
                           "q_hat_mean": q_tight.mean(axis=0).tolist(),
                           "estimates": tight_est},
        "n_rounds": int(n), "n_actions": int(ds.n_actions), "len_list": int(ds.len_list),
        "dim_context": int(bf["context"].shape[1]),
        "fingerprints": {
            "action": weighted_sums(bf["action"][:, None]),
            "position": weighted_sums(bf["position"][:, None]),
            "reward": weighted_sums(bf["reward"][:, None]),
            "pscore": weighted_sums(bf["pscore"][:, None]),
            "context": weighted_sums(bf["context"]),
        },
        "action_context": np.asarray(ds.action_context, dtype=float).tolist(),
        "bts_action_dist": action_dist[0].tolist(),
        "bts_seconds": bts_seconds,
        "ground_truth_bts_on_policy": float(ground_truth),
        "fixed_q": {"generator": "RandomState(7).uniform(0, 0.02, (n, n_actions, len_list))",
                    "estimates": fixed},
        "pipeline": {"reward_model": "LogisticRegression(max_iter=1000, random_state=12345), "
                                     "per position, 3-fold cross-fitting (KFold shuffle, 12345)",
                     "reward_model_seconds": reg_seconds,
                     "q_hat_mean": q_obp.mean(axis=0).tolist(),
                     "q_hat_fingerprint": weighted_sums(q_obp.reshape(n, -1)[:, :5]),
                     "estimates": pipeline},
    }


def synthetic_section() -> dict:
    rs = np.random.RandomState(2024)
    n, n_actions, len_list = 400, 5, 2
    behavior = rs.dirichlet(np.ones(n_actions), size=n)
    action = np.array([rs.choice(n_actions, p=p) for p in behavior])
    pscore = behavior[np.arange(n), action]
    position = rs.randint(len_list, size=n)
    reward = rs.binomial(1, 0.3, size=n).astype(float)
    action_dist = rs.dirichlet(np.ones(n_actions), size=(n, len_list)).transpose(0, 2, 1)
    q_hat = rs.uniform(0, 1, size=(n, n_actions, len_list))
    return {
        "inputs": {"reward": reward.tolist(), "action": action.tolist(),
                   "position": position.tolist(), "pscore": pscore.tolist(),
                   "action_dist": action_dist.tolist(), "estimated_rewards": q_hat.tolist()},
        "estimates": run_estimators(reward, action, position, pscore, action_dist, q_hat),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="../shared/datasets/open-bandit-sample")
    ap.add_argument("--out", default="tests/ope/data/obp_reference.json")
    a = ap.parse_args()
    import sklearn

    ref = {"generator": "benchmarks/ope_vs_obp.py", "obp_version": obp.__version__,
           "numpy_version": np.__version__, "sklearn_version": sklearn.__version__,
           "n_bootstrap": N_BOOT, "seed": SEED,
           "obd": obd_section(Path(a.data)), "synthetic": synthetic_section()}
    Path(a.out).write_text(json.dumps(ref, indent=1) + "\n")
    print(f"wrote {a.out}")
    for row in ref["obd"]["pipeline"]["estimates"]:
        print(f"{row['estimator']:10s} {row['param']!s:5s} {row['value']:.6f} "
              f"rel.err {row['relative_error']:.4f}")


if __name__ == "__main__":
    main()
