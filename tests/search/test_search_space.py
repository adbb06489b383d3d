"""Declarative search spaces: structure checks, config checks, conditional sampling."""

from __future__ import annotations

import json

import optuna
import pytest

from recforge import registry
from recforge.errors import ConfigError
from recforge.search.space import (
    DEFAULT_SPACES,
    Categorical,
    FamilySpace,
    Float,
    Int,
    check_against_config,
    resolve,
    space_from_dict,
)


@pytest.mark.parametrize("make, msg", [
    (lambda: Float(1.0, 1.0), "low < high"),
    (lambda: Float(0.0, 1.0, log=True), "log scale needs low > 0"),
    (lambda: Float(0.0, 1.0, default=2.0), "outside"),
    (lambda: Int(1.5, 3), "integer"),
    (lambda: Float(float("nan"), 1.0), "finite"),
    (lambda: Categorical(()), "at least one"),
    (lambda: Categorical(("a", "a")), "distinct"),
    (lambda: Categorical(("a", "b"), default="c"), "not one of"),
    (lambda: FamilySpace("x", {"a": Float(0, 1)}, fixed={"a": 0.5}), "both searched and fixed"),
    (lambda: FamilySpace("x", {}, fidelity="epochs"), "epochs_field"),
    (lambda: FamilySpace("x", {}, fidelity="bogus"), "fidelity"),
])
def test_structure_is_validated(make, msg) -> None:
    with pytest.raises(ConfigError, match=msg):
        make()


def test_space_must_fit_the_model_config() -> None:
    ease = registry.get("ease").config_class
    check_against_config(FamilySpace("ease", {"l2": Float(1.0, 1e4, log=True)}), ease)
    with pytest.raises(ConfigError, match="not a config field"):
        check_against_config(FamilySpace("ease", {"lambda": Float(1.0, 10.0)}), ease)
    with pytest.raises(ConfigError, match="below the config's bound"):
        check_against_config(FamilySpace("ease", {"l2": Float(-5.0, 10.0)}), ease)
    with pytest.raises(ConfigError, match="not allowed"):
        check_against_config(FamilySpace("ease", {"dtype": Categorical(("float32", "float16"))}), ease)


def test_every_default_space_fits_its_registered_model() -> None:
    checked = 0
    for fam, space in DEFAULT_SPACES.items():
        if fam in registry.names("topk"):
            check_against_config(space, registry.get(fam).config_class)
            checked += 1
    assert checked >= 6  # most-popular, item-knn, rp3beta, ease, als, bpr at least


def test_dict_round_trip_and_unknown_keys() -> None:
    data = {fam: sp.to_dict() for fam, sp in DEFAULT_SPACES.items()}
    back = space_from_dict(json.loads(json.dumps(data)))
    assert back == DEFAULT_SPACES
    with pytest.raises(ConfigError, match="unknown key"):
        space_from_dict({"ease": {"params": {"l2": {"type": "float", "low": 1, "high": 2, "lg": True}}}})
    with pytest.raises(ConfigError, match="type must be"):
        space_from_dict({"ease": {"params": {"l2": {"type": "real", "low": 1, "high": 2}}}})


def test_resolve_skips_unregistered_families_with_a_note() -> None:
    notes: list[str] = []
    spaces = {"ease": DEFAULT_SPACES["ease"], "not-yet-a-model": FamilySpace("not-yet-a-model", {})}
    res = resolve(spaces, None, log=notes.append)
    assert res.names == ["ease"]
    assert "not-yet-a-model" in res.skipped and any("not-yet-a-model" in n for n in notes)
    with pytest.raises(ConfigError, match="unknown model family"):
        resolve(None, ["ease", "nope"])


def test_conditional_sampling_only_touches_the_chosen_family() -> None:
    res = resolve(None, ["ease", "item-knn", "most-popular"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), direction="maximize")
    seen = set()
    for _ in range(30):
        trial = study.ask()
        fam, cfg = res.suggest(trial)
        seen.add(fam)
        assert all(k == "model" or k.startswith(fam + ".") for k in trial.params)
        assert set(cfg) == set(DEFAULT_SPACES[fam].params) | set(DEFAULT_SPACES[fam].fixed)
        registry.get(fam).config_class.from_dict(cfg)  # a valid config every time
        assert res.params_of(trial.params) == (fam, cfg)
        study.tell(trial, 0.0)
    assert seen == {"ease", "item-knn", "most-popular"}
    dist = DEFAULT_SPACES["ease"].params["l2"]
    assert isinstance(dist, Float) and dist.log  # l2 spans decades: sampled on a log scale


def test_to_optuna_params_clips_into_the_space() -> None:
    sp = DEFAULT_SPACES["ease"]
    assert sp.to_optuna_params({"l2": 1e9}) == {"model": "ease", "ease.l2": 1e5}


def test_rung_steps_are_powers_of_the_reduction_factor() -> None:
    from recforge.search.fidelity import is_rung_step

    assert [s for s in range(0, 100) if is_rung_step(s)] == [1, 3, 9, 27, 81]
    assert [s for s in range(0, 20) if is_rung_step(s, 2)] == [1, 2, 4, 8, 16]
