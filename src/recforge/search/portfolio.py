"""Warm start: a portfolio of configurations that did well on other datasets, tried first.

The shipped portfolio (``search/portfolio/default.json``) is built offline by
``benchmarks/build_portfolio.py`` (see the README section "How the search portfolio was
built"). It is data: a JSON object ::

    {"format": "recforge-portfolio", "version": 1, "metric": "ndcg@10",
     "built_from": ["ml-100k", ...], "command": "...",
     "configs": [{"family": "ease", "params": {"l2": 300.0}, "mean_rank": 1.3,
                  "scores": {"ml-100k": 0.41, ...}}, ...]}

``configs`` are in the order they should be tried (best first across families). The engine
enqueues the entries whose family is being searched, clipped into the search space.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recforge.errors import ConfigError

PORTFOLIO_DIR = Path(__file__).parent / "portfolio"
FORMAT = "recforge-portfolio"


def load_portfolio(source: str | Path | None = "default") -> list[dict[str, Any]]:
    """Configurations of a portfolio (``"default"``, a path to a JSON file, or ``None``).

    A missing default portfolio gives an empty list (the search then warm-starts from each
    family's defaults only); a user-given file that is missing or malformed is an error.
    """
    if source is None:
        return []
    if str(source) == "default":
        path = PORTFOLIO_DIR / "default.json"
        if not path.exists():
            return []
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"portfolio file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable portfolio ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("configs"), list):
        raise ConfigError(f"{path}: not a recforge portfolio (needs format={FORMAT!r} and a 'configs' list)")
    out = []
    for i, entry in enumerate(data["configs"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("family"), str) or not isinstance(entry.get("params", {}), dict):
            raise ConfigError(f"{path}: configs[{i}] must be {{'family': str, 'params': {{...}}}}, got {entry!r}")
        out.append({"family": entry["family"], "params": dict(entry.get("params", {}))})
    return out
