"""Reader of the Open Bandit Dataset (Saito et al., NeurIPS 2021; CC BY 4.0).

Layout (obp's and the official release's): ``ROOT/{random,bts}/{all,men,women}/`` holding
``{campaign}.csv`` and ``item_context.csv`` (either may be ``.xz`` or ``.gz`` compressed).
The 10,000-round samples of campaign ``all`` are embedded in recforge
(``datasets/embedded/open-bandit``); other campaigns or the full data need ``path=``.

Pre-processing is obp's ``OpenBanditDataset`` default, so that estimates agree with obp:
rows sorted by timestamp, positions 1..3 mapped to 0..2, context = one-hot user features
(first category dropped), action context = label-encoded item features 1..3 followed by the
numeric item feature 0. Each round's ``user`` is its four hashed user features joined with
``|`` (the dataset has no user ids), so a recommender trained on such keys can be evaluated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from recforge.data.bandit import BanditLog, read_log_frame
from recforge.errors import ConfigError, DataError

POLICIES = ("random", "bts")
CAMPAIGNS = ("all", "men", "women")


def _find(folder: Path, stem: str) -> Path:
    for suffix in ("", ".xz", ".gz"):
        p = folder / f"{stem}{suffix}"
        if p.exists():
            return p
    raise DataError(f"open-bandit: {folder / stem} not found (also looked for .xz/.gz); "
                    "--path must point at a folder with {random,bts}/{all,men,women}/ inside")


def read_open_bandit(root: str | Path, *, behavior_policy: str = "random",
                     campaign: str = "all", files: list[str] | None = None,
                     **_: Any) -> BanditLog:
    """Load one behaviour policy's log of one campaign as a :class:`BanditLog`.

    Args:
        root: folder holding ``random/`` and ``bts/``.
        behavior_policy: ``"random"`` or ``"bts"``.
        campaign: ``"all"``, ``"men"`` or ``"women"``.
    """
    if files:
        raise ConfigError("open-bandit has no split files; choose behavior_policy= and campaign=")
    if behavior_policy not in POLICIES:
        raise ConfigError(f"open-bandit: behavior_policy must be one of {POLICIES}, got "
                          f"{behavior_policy!r}")
    if campaign not in CAMPAIGNS:
        raise ConfigError(f"open-bandit: campaign must be one of {CAMPAIGNS}, got {campaign!r}")
    folder = Path(root) / behavior_policy / campaign
    if not folder.is_dir():
        raise DataError(f"open-bandit: folder {folder} not found (the embedded sample has "
                        "campaign 'all' only; give --path for the others)")
    log_path = _find(folder, f"{campaign}.csv")
    df = read_log_frame(log_path)
    items = read_log_frame(_find(folder, "item_context.csv"))
    user_cols = [c for c in df.columns if "user_feature" in c]
    needed = ["timestamp", "item_id", "position", "click", "propensity_score"]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataError(f"{log_path}: missing column(s) {missing}; is this an Open Bandit file?")
    df = df.with_columns(
        pl.concat_str([pl.col(c).cast(pl.Utf8) for c in user_cols], separator="|").alias("__user")
    )
    item_cols = ["item_id"] + [c for c in items.columns if c.startswith("item_feature")]
    if "item_id" not in items.columns:
        raise DataError(f"{folder}/item_context.csv: missing column 'item_id'")
    return BanditLog.from_frame(
        df, action="item_id", position="position", reward="click", pscore="propensity_score",
        categorical_context=user_cols, user="__user", sort_by="timestamp",
        action_context=items.select(item_cols), n_actions=items.height, binary_reward=True,
        name=f"open-bandit/{behavior_policy}/{campaign}", source=str(log_path), line_offset=2,
    )
