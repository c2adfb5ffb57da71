"""Search spaces: read from YAML, checked against TrainConfig and the model registry before anything
starts, and turned into an Optuna define-by-run function (so conditional parameters just work).
An optional `start:` list names configurations to try first, before TPE takes over."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml

from models import list_models
from training.config import TrainConfig

from .members import MEMBER

KINDS = ("choice", "uniform", "loguniform", "int")
# TrainConfig fields a space may not set, and why. Every trial trains and is scored on the same faces, on
# the resources the search gives it; a refit trains on the validation faces that would score it.
_ONCE = "is set by the search for every trial alike, not by the space"
_REFIT = "is ensemble.refit's, after the search: a refitted trial trains on the validation faces that score it"
NOT_SEARCHABLE = {"train": _ONCE, "val": _ONCE, "val_fraction": _ONCE, "split_seed": _ONCE, "device": _ONCE, "threads": _ONCE,
                  "refit": _REFIT, "stop_epoch": _REFIT}


@dataclass(frozen=True)
class Param:
    name: str  # a TrainConfig field
    kind: str  # one of KINDS, or "fixed"
    values: tuple  # choices, (low, high), or (value,) when fixed
    when: dict[str, Any]  # sample only if earlier parameters have these values
    otherwise: Any = None  # with `when`: the value when they do not (None: the config's own)


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]
    source: str  # the YAML file
    start: tuple[dict[str, Any], ...] = ()  # configurations tried first (Optuna's enqueue_trial), then TPE

    def sample(self, trial: optuna.Trial) -> dict[str, Any]:
        """Define-by-run: draw one configuration. Returns the fixed values, and an ensemble member's own
        (search.members: its seed); Optuna records the rest."""
        drawn: dict[str, Any] = {}
        fixed: dict[str, Any] = {}
        for p in self.params:
            if any(drawn.get(k, fixed.get(k)) != v for k, v in p.when.items()):
                if p.otherwise is not None:
                    fixed[p.name] = p.otherwise
                continue
            if p.kind == "fixed":
                fixed[p.name] = p.values[0]
            elif p.kind == "choice":
                drawn[p.name] = trial.suggest_categorical(p.name, list(p.values))
            elif p.kind == "int":
                drawn[p.name] = trial.suggest_int(p.name, *p.values)
            else:
                drawn[p.name] = trial.suggest_float(p.name, *p.values, log=p.kind == "loguniform")
        return {**fixed, **trial.user_attrs.get(MEMBER, {})}

    @property
    def architectures(self) -> list[str]:
        return [v for p in self.params if p.name == "arch" for v in p.values]


def load_space(path: str | Path) -> SearchSpace:
    """Parse and check a space file; every mistake is a ValueError naming the file and key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: cannot read the search space ({err})") from None
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: a search space is a mapping of TrainConfig fields to ranges")
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    start = raw.pop("start", [])
    params = []
    for name, spec in raw.items():
        if name not in fields:
            raise ValueError(f"{path}: unknown key '{name}'; keys are TrainConfig fields: {', '.join(fields)}")
        if name in NOT_SEARCHABLE:
            raise ValueError(f"{path}: '{name}' {NOT_SEARCHABLE[name]}")
        params.append(_param(path, name, spec, seen={p.name for p in params}))
    space = SearchSpace(tuple(params), str(path), tuple(_start_point(path, point, params) for point in start))
    unknown = [a for a in space.architectures if a not in list_models()]
    if unknown:
        raise ValueError(f"{path}: unknown architecture '{unknown[0]}'; known: {', '.join(list_models())}")
    for p in params:  # every value a trial can get must make a valid TrainConfig
        values = list(p.values) if p.kind in ("choice", "fixed") else []
        if p.otherwise is not None:
            values.append(p.otherwise)
        for v in values:
            try:
                TrainConfig.from_dict({p.name: v})
            except ValueError as err:
                raise ValueError(f"{path}: {p.name}: {err}") from None
    return space


def _start_point(path: Path, point: Any, params: list[Param]) -> dict[str, Any]:
    """A start point names sampled parameters only, each with a value its range allows."""
    sampled = {p.name: p for p in params if p.kind != "fixed"}
    if not isinstance(point, dict):
        raise ValueError(f"{path}: start: each entry is a mapping of parameters to values, not {point!r}")
    for name, value in point.items():
        if name not in sampled:
            raise ValueError(f"{path}: start: '{name}' is not a sampled parameter of this space")
        p = sampled[name]
        inside = value in p.values if p.kind == "choice" else isinstance(value, int | float) and p.values[0] <= value <= p.values[1]
        if not inside:
            raise ValueError(f"{path}: start: {name}={value!r} is outside {p.kind} {list(p.values)}")
    return dict(point)


def _param(path: Path, name: str, spec: Any, seen: set[str]) -> Param:
    if not isinstance(spec, dict):
        return Param(name, "fixed", (spec,), {})
    when, otherwise = spec.get("when", {}), spec.get("otherwise")
    if otherwise is not None and not when:
        raise ValueError(f"{path}: {name}: 'otherwise' goes with 'when'")
    kinds = [k for k in spec if k not in ("when", "otherwise")]
    if len(kinds) != 1 or kinds[0] not in KINDS:
        raise ValueError(f"{path}: {name}: give exactly one of {', '.join(KINDS)} (found {', '.join(map(str, kinds)) or 'none'})")
    kind, values = kinds[0], spec[kinds[0]]
    if not isinstance(values, list) or not values or (kind != "choice" and len(values) != 2):
        raise ValueError(f"{path}: {name}: {kind} takes {'a list' if kind == 'choice' else '[low, high]'}, not {values!r}")
    if kind != "choice":
        try:  # YAML 1.1 reads 1e-4 (no dot) as a string
            values = [int(v) if kind == "int" else float(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"{path}: {name}: {kind} bounds must be numbers, not {values!r}") from None
    if kind != "choice" and not values[0] < values[1]:
        raise ValueError(f"{path}: {name}: low must be below high, not {values!r}")
    if not isinstance(when, dict) or not set(when) <= seen:
        raise ValueError(f"{path}: {name}: 'when' must name parameters listed above it")
    return Param(name, kind, tuple(values), dict(when), otherwise)
