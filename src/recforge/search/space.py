"""Declarative, validated search spaces: one categorical over model families, each with its
own conditional sub-space.

A space is *data*, not code: every family is a :class:`FamilySpace` holding dimensions
(:class:`Float`, :class:`Int`, :class:`Categorical`) with ranges, log scales and defaults, the
fixed settings the search does not touch, and how the family is made cheaper at low fidelity
(``"epochs"`` for models trained in epochs, ``"data"`` for closed-form ones fitted on a user
subsample, ``"none"``). The same structure round-trips through plain dicts / JSON
(:meth:`FamilySpace.to_dict`, :func:`space_from_dict`), so users can pass their own spaces.

Validation happens twice: the structure itself (``low < high``, a log scale needs ``low > 0``,
the default inside the range, non-empty choices) when a dimension is built, and against the
model's config class (every name is a config field, the range lies inside the field's bounds,
the choices inside its choices, the fixed settings and defaults build a valid config) by
:func:`resolve` when the family is registered. A family that is not registered (yet) is
skipped with a logged note; a family whose space does not fit its config is an error.

Optuna parameter names are ``"model"`` for the family and ``"<family>.<field>"`` for the
conditional parameters, so TPE (``multivariate=True, group=True``) models each family's
sub-space separately.

Example:
    >>> from recforge.search.space import FamilySpace, Float
    >>> FamilySpace("ease", {"l2": Float(1.0, 1e5, log=True, default=500.0)}, fidelity="data")
    ... # doctest: +ELLIPSIS
    FamilySpace(family='ease', ...)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from recforge.errors import ConfigError

if TYPE_CHECKING:
    import optuna

FAMILY_PARAM = "model"
Fidelity = Literal["epochs", "data", "none"]


@dataclass(frozen=True)
class Float:
    """A real-valued dimension ``[low, high]``; ``log=True`` samples on a log scale."""

    low: float
    high: float
    log: bool = False
    default: float | None = None

    def __post_init__(self) -> None:
        _check_range(self, float)

    def distribution(self) -> Any:
        import optuna

        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)

    def clip(self, value: Any) -> float:
        return float(min(max(float(value), self.low), self.high))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log, "default": self.default}


@dataclass(frozen=True)
class Int:
    """An integer dimension ``[low, high]``; ``log=True`` samples on a log scale."""

    low: int
    high: int
    log: bool = False
    default: int | None = None

    def __post_init__(self) -> None:
        _check_range(self, int)

    def distribution(self) -> Any:
        import optuna

        return optuna.distributions.IntDistribution(self.low, self.high, log=self.log)

    def clip(self, value: Any) -> int:
        return int(min(max(round(float(value)), self.low), self.high))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "log": self.log, "default": self.default}


@dataclass(frozen=True)
class Categorical:
    """A choice among ``choices`` (str, int, float or bool values)."""

    choices: tuple[Any, ...]
    default: Any = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if not self.choices:
            raise ConfigError("Categorical needs at least one choice")
        for c in self.choices:
            if not isinstance(c, (str, int, float, bool)):
                raise ConfigError(f"Categorical choices must be str/int/float/bool, got {c!r}")
        if len(set(self.choices)) != len(self.choices):
            raise ConfigError(f"Categorical choices must be distinct, got {list(self.choices)}")
        if self.default is not None and self.default not in self.choices:
            raise ConfigError(f"Categorical default {self.default!r} is not one of {list(self.choices)}")

    def distribution(self) -> Any:
        import optuna

        return optuna.distributions.CategoricalDistribution(self.choices)

    def clip(self, value: Any) -> Any:
        return value if value in self.choices else (self.default if self.default is not None else self.choices[0])

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices), "default": self.default}


Dimension = Float | Int | Categorical


def _check_range(dim: Float | Int, kind: type) -> None:
    name = type(dim).__name__
    for label in ("low", "high"):
        v = getattr(dim, label)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"{name}.{label} must be a finite number, got {v!r}")
        if kind is int and float(v) != int(v):
            raise ConfigError(f"{name}.{label} must be an integer, got {v!r}")
        object.__setattr__(dim, label, kind(v))
    if not dim.low < dim.high:
        raise ConfigError(f"{name} needs low < high, got low={dim.low!r}, high={dim.high!r}")
    if dim.log and dim.low <= 0:
        raise ConfigError(f"{name} on a log scale needs low > 0, got low={dim.low!r}")
    if dim.default is not None:
        if not (dim.low <= dim.default <= dim.high):
            raise ConfigError(f"{name} default {dim.default!r} lies outside [{dim.low}, {dim.high}]")
        object.__setattr__(dim, "default", kind(dim.default))


@dataclass(frozen=True)
class FamilySpace:
    """The sub-space of one model family.

    Attributes:
        family: registered model name (``recforge.registry.names("topk")``).
        params: config field -> dimension searched.
        fixed: config field -> value set for every trial (e.g. the epoch cap).
        fidelity: ``"epochs"`` (pruned between epochs through the epoch callback),
            ``"data"`` (fitted on a user subsample at low rungs) or ``"none"``.
        epochs_field: for ``"epochs"``: the config field that holds the number of epochs
            (used to refit the winner for as many epochs as its trial trained).
    """

    family: str
    params: Mapping[str, Dimension] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    fidelity: Fidelity = "none"
    epochs_field: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "fixed", dict(self.fixed))
        if self.fidelity not in ("epochs", "data", "none"):
            raise ConfigError(
                f"search space {self.family!r}: fidelity must be 'epochs', 'data' or 'none', got {self.fidelity!r}"
            )
        for k, d in self.params.items():
            if not isinstance(d, (Float, Int, Categorical)):
                raise ConfigError(f"search space {self.family!r}: {k!r} must be Float, Int or Categorical, got {d!r}")
        both = sorted(set(self.params) & set(self.fixed))
        if both:
            raise ConfigError(f"search space {self.family!r}: {both} are both searched and fixed; keep one")
        if self.fidelity == "epochs" and not self.epochs_field:
            raise ConfigError(f"search space {self.family!r}: fidelity 'epochs' needs epochs_field")

    def optuna_name(self, param_name: str) -> str:
        return f"{self.family}.{param_name}"

    def defaults(self) -> dict[str, Any]:
        """The default point of this sub-space (dimensions with a default)."""
        return {k: d.default for k, d in self.params.items() if d.default is not None}

    def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Sample this family's parameters on an Optuna trial (plus the fixed ones)."""
        out = dict(self.fixed)
        for k, d in self.params.items():
            name = self.optuna_name(k)
            if isinstance(d, Float):
                out[k] = trial.suggest_float(name, d.low, d.high, log=d.log)
            elif isinstance(d, Int):
                out[k] = trial.suggest_int(name, d.low, d.high, log=d.log)
            else:
                out[k] = trial.suggest_categorical(name, d.choices)
        return out

    def to_optuna_params(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A model config (field -> value) as Optuna parameters, clipped into the space."""
        out: dict[str, Any] = {FAMILY_PARAM: self.family}
        for k, d in self.params.items():
            if k in config:
                out[self.optuna_name(k)] = d.clip(config[k])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {k: d.to_dict() for k, d in self.params.items()},
            "fixed": dict(self.fixed),
            "fidelity": self.fidelity,
            "epochs_field": self.epochs_field,
        }


def dimension_from_dict(name: str, spec: Mapping[str, Any]) -> Dimension:
    """Build a dimension from ``{"type": "float", "low": .., "high": .., "log": .., "default": ..}``."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"search space dimension {name!r} must be a mapping, got {spec!r}")
    kind = spec.get("type")
    keys = set(spec) - {"type"}
    allowed = {"float": {"low", "high", "log", "default"}, "int": {"low", "high", "log", "default"},
               "categorical": {"choices", "default"}}
    if kind not in allowed:
        raise ConfigError(f"search space dimension {name!r}: type must be float, int or categorical, got {kind!r}")
    unknown = sorted(keys - allowed[kind])
    if unknown:
        raise ConfigError(f"search space dimension {name!r}: unknown key(s) {unknown}; valid: {sorted(allowed[kind])}")
    try:
        if kind == "float":
            return Float(spec["low"], spec["high"], bool(spec.get("log", False)), spec.get("default"))
        if kind == "int":
            return Int(spec["low"], spec["high"], bool(spec.get("log", False)), spec.get("default"))
        return Categorical(tuple(spec["choices"]), spec.get("default"))
    except KeyError as exc:
        raise ConfigError(f"search space dimension {name!r}: missing key {exc.args[0]!r}") from exc


def space_from_dict(data: Mapping[str, Any]) -> dict[str, FamilySpace]:
    """Parse ``{family: {"params": {...}, "fixed": {...}, "fidelity": ..., "epochs_field": ...}}``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"a search space must be a mapping of family -> sub-space, got {type(data).__name__}")
    out = {}
    for fam, sub in data.items():
        if not isinstance(sub, Mapping):
            raise ConfigError(f"search space {fam!r} must be a mapping, got {sub!r}")
        unknown = sorted(set(sub) - {"params", "fixed", "fidelity", "epochs_field"})
        if unknown:
            raise ConfigError(f"search space {fam!r}: unknown key(s) {unknown}; valid: params, fixed, fidelity, epochs_field")
        params = {k: dimension_from_dict(f"{fam}.{k}", v) for k, v in dict(sub.get("params", {})).items()}
        out[str(fam)] = FamilySpace(str(fam), params, dict(sub.get("fixed", {})),
                                    sub.get("fidelity", "none"), sub.get("epochs_field"))
    return out


# --------------------------------------------------------------------------------------
# Default spaces. Ranges follow the tuning ranges used in the literature for each family
# (e.g. Anelli et al. 2022 "Top-N recommendation algorithms: a quest for the state of the
# art"; Dacrema et al. 2019) narrowed to what fits a laptop budget.
# --------------------------------------------------------------------------------------
DEFAULT_SPACES: dict[str, FamilySpace] = {
    "most-popular": FamilySpace("most-popular", {}),
    "item-knn": FamilySpace(
        "item-knn",
        {
            "neighbours": Int(5, 1000, log=True, default=100),
            "shrink": Float(0.0, 1000.0, default=10.0),
            "feature_weighting": Categorical(("none", "tfidf", "bm25"), default="none"),
        },
        fidelity="data",
    ),
    "rp3beta": FamilySpace(
        "rp3beta",
        {
            "alpha": Float(0.1, 2.0, default=1.0),
            "beta": Float(0.0, 1.0, default=0.5),
            "neighbours": Int(10, 1000, log=True, default=100),
        },
        fidelity="data",
    ),
    # EASE costs O(items^3) whatever the number of users: a user subsample would not make a
    # low rung cheaper, only add a fit, so EASE runs at full fidelity.
    "ease": FamilySpace("ease", {"l2": Float(1.0, 1e5, log=True, default=500.0)}),
    "als": FamilySpace(
        "als",
        {
            "factors": Int(8, 256, log=True, default=64),
            "regularization": Float(1e-4, 10.0, log=True, default=0.01),
            "alpha": Float(0.1, 100.0, log=True, default=1.0),
        },
        fixed={"iterations": 15},
        fidelity="epochs",
        epochs_field="iterations",
    ),
    "bpr": FamilySpace(
        "bpr",
        {
            "factors": Int(8, 256, log=True, default=64),
            "learning_rate": Float(1e-3, 0.3, log=True, default=0.01),
            "regularization": Float(1e-5, 0.1, log=True, default=0.01),
        },
        fixed={"iterations": 60},
        fidelity="epochs",
        epochs_field="iterations",
    ),
    "mult-vae": FamilySpace(
        "mult-vae",
        {
            "hidden": Int(64, 1024, log=True, default=600),
            "latent": Int(16, 400, log=True, default=200),
            "dropout": Float(0.0, 0.8, default=0.5),
            "lr": Float(1e-4, 1e-2, log=True, default=1e-3),
            "anneal_cap": Float(0.0, 1.0, default=0.2),
        },
        fixed={"epochs": 50},
        fidelity="epochs",
        epochs_field="epochs",
    ),
    "lightgcn": FamilySpace(
        "lightgcn",
        {
            "dim": Int(16, 128, log=True, default=64),
            "n_layers": Int(1, 4, default=3),
            "lr": Float(1e-4, 1e-2, log=True, default=1e-3),
            "reg": Float(1e-6, 1e-2, log=True, default=1e-4),
        },
        fixed={"epochs": 30},
        fidelity="epochs",
        epochs_field="epochs",
    ),
    "sasrec": FamilySpace(
        "sasrec",
        {
            "dim": Int(16, 128, log=True, default=64),
            "n_layers": Int(1, 3, default=2),
            "dropout": Float(0.0, 0.5, default=0.2),
            "lr": Float(1e-4, 1e-2, log=True, default=1e-3),
            "max_len": Int(20, 200, log=True, default=50),
        },
        fixed={"epochs": 30},
        fidelity="epochs",
        epochs_field="epochs",
    ),
    "two-tower": FamilySpace(
        "two-tower",
        {
            "dim": Int(16, 256, log=True, default=64),
            "lr": Float(1e-4, 3e-2, log=True, default=3e-3),
            "temperature": Float(0.02, 1.0, log=True, default=0.1),
        },
        fixed={"epochs": 30},
        fidelity="epochs",
        epochs_field="epochs",
    ),
    # Two-stage pipelines: conditional choices of retriever, number of candidates, CTR ranker
    # and stacked scorers (each stage at its defaults); searched only when asked for
    # (``models=["two-stage", ...]``): one trial fits three or more models.
    "two-stage": FamilySpace(
        "two-stage",
        {
            "retriever": Categorical(("ease", "item-knn", "als"), default="ease"),
            "n_candidates": Int(20, 200, log=True, default=100),
            "ranker": Categorical(("fm", "deepfm", "lr"), default="fm"),
            "scorers": Categorical(("", "item-knn", "item-knn,als"), default=""),
            "ranker_holdout": Float(0.1, 0.4, default=0.2),
            "id_features": Categorical((False, True), default=False),
        },
        fixed={"ranker_params": '{"epochs": 5, "dim": 8, "lr": 0.01, "lr_embedding": 0.02, "batch_size": 1024}'},
    ),
}

#: Families never searched by default (a floor, or too slow for a default budget).
EXCLUDED_BY_DEFAULT = frozenset({"random", "two-stage"})


@dataclass(frozen=True)
class ResolvedSpace:
    """The families actually searched, each checked against its model's config."""

    families: dict[str, FamilySpace]
    skipped: dict[str, str]  # family -> reason

    @property
    def names(self) -> list[str]:
        return list(self.families)

    def family_distribution(self) -> Any:
        import optuna

        return optuna.distributions.CategoricalDistribution(tuple(self.families))

    def suggest(self, trial: optuna.trial.BaseTrial) -> tuple[str, dict[str, Any]]:
        """Sample a family, then its conditional parameters."""
        fam = trial.suggest_categorical(FAMILY_PARAM, tuple(self.families))
        return str(fam), self.families[str(fam)].suggest(trial)

    def params_of(self, optuna_params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Family and model config of a trial's Optuna parameters."""
        fam = str(optuna_params[FAMILY_PARAM])
        space = self.families[fam]
        cfg = dict(space.fixed)
        prefix = fam + "."
        for k, v in optuna_params.items():
            if k.startswith(prefix):
                cfg[k[len(prefix):]] = v
        return fam, cfg

    def to_dict(self) -> dict[str, Any]:
        return {f: s.to_dict() for f, s in self.families.items()}


def check_against_config(space: FamilySpace, config_class: Any) -> None:
    """Raise :class:`ConfigError` when ``space`` does not fit the model's config class."""
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    where = f"search space {space.family!r} ({config_class.__name__})"
    for name in [*space.params, *space.fixed]:
        if name not in fields:
            raise ConfigError(f"{where}: {name!r} is not a config field; valid fields are {sorted(fields)}")
    for name, d in space.params.items():
        meta = fields[name].metadata
        lo, hi, choices = meta.get("low"), meta.get("high"), meta.get("choices")
        if isinstance(d, Categorical):
            if choices is not None:
                bad = [c for c in d.choices if c not in choices]
                if bad:
                    raise ConfigError(f"{where}: choices {bad} of {name!r} are not allowed; the config allows {list(choices)}")
            continue
        if lo is not None and d.low < lo:
            raise ConfigError(f"{where}: {name!r} low={d.low} is below the config's bound {lo}")
        if hi is not None and d.high > hi:
            raise ConfigError(f"{where}: {name!r} high={d.high} is above the config's bound {hi}")
    # The fixed settings and every corner of the space must build a valid config.
    probe = [dict(space.fixed, **space.defaults())]
    for pick in ("low", "high"):
        corner = dict(space.fixed)
        for name, d in space.params.items():
            corner[name] = d.choices[0 if pick == "low" else -1] if isinstance(d, Categorical) else getattr(d, pick)
        probe.append(corner)
    for cfg in probe:
        config_class.from_dict(cfg)


def resolve(spaces: Mapping[str, FamilySpace] | None = None, models: Iterable[str] | None = None,
            *, kind: str = "topk", log: Any = None) -> ResolvedSpace:
    """Pick and check the families to search.

    Args:
        spaces: family -> sub-space; defaults to :data:`DEFAULT_SPACES`.
        models: restrict to these families (registered names or aliases); all registered
            families of ``kind`` that have a space otherwise.
        kind: ``"topk"`` or ``"ctr"`` (which registry section to search).
        log: callable receiving a note per skipped family.
    """
    from recforge import registry

    user_given = spaces is not None
    spaces = dict(DEFAULT_SPACES if spaces is None else spaces)
    registered = set(registry.names(kind))
    skipped: dict[str, str] = {}
    if models is not None:
        wanted = []
        for m in models:
            key = m.strip().lower().replace("_", "-")
            try:
                key = registry.canonical(key)
            except ConfigError:
                if key not in spaces:
                    raise ConfigError(
                        f"unknown model family {m!r}; registered {kind} families: {sorted(registered)}"
                    ) from None
            if key not in spaces:
                if key in registered:
                    spaces[key] = FamilySpace(key, {})  # registered without a space: defaults only
                else:
                    raise ConfigError(f"no search space for {m!r}; give one with spaces=")
            wanted.append(key)
        if not wanted:
            raise ConfigError("models= is empty; name at least one family")
    else:
        wanted = [f for f in spaces if f not in EXCLUDED_BY_DEFAULT]
    families: dict[str, FamilySpace] = {}
    for fam in dict.fromkeys(wanted):
        if fam not in registered:
            skipped[fam] = f"model {fam!r} is not registered in this installation"
            if log:
                log(f"search: skipping {fam!r}: not registered (yet) in recforge.registry")
            continue
        space = spaces[fam]
        try:
            check_against_config(space, registry.get(fam).config_class)
        except ConfigError as exc:
            if user_given or models is not None:
                raise
            # A shipped default space that no longer fits a model must not stop the search.
            skipped[fam] = f"default space does not fit the model: {exc}"
            if log:
                log(f"search: skipping {fam!r}: {exc}")
            continue
        families[fam] = space
    if not families:
        raise ConfigError(
            f"no model family to search: none of {list(dict.fromkeys(wanted))} is registered; "
            f"registered {kind} families: {sorted(registered)}"
        )
    return ResolvedSpace(families, skipped)
