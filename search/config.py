"""TrainConfig: everything one training run needs, frozen, saved in every checkpoint; and
SearchSettings: everything a search needs, saved as runs/NAME/search.json for --resume.

Overrides (CLI flags, search-space samples, a config.json read back) go through `from_dict`, which
rejects unknown keys and coerces types, so a typo is an error instead of a silently ignored knob.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPTIMIZERS = ("adam", "sgd")
AMP_MODES = ("auto", "bf16", "off")


def _field(default: Any, help: str) -> Any:
    """A dataclass field whose comment travels with it (shown by --help)."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    # data
    train: str = _field("", "train CSV (.csv/.csv.gz); empty = built-in synthetic demo data")
    val: str = _field("", "validation CSV; empty = hold out val_fraction of train")
    val_fraction: float = _field(0.15, "share of train held out for validation when no val file is given")
    split_seed: int = _field(0, "seed of the train/validation split (shared by every trial of a search)")
    # model
    arch: str = _field("vgg_opt", "architecture name from `python -m models`")
    dropout: float = _field(1.0, "factor on the architecture's dropout rates: 1 = the seed's, 0 = none")
    # optimisation (the seed's recipe: Adam, batch 256, early stopping with best-weight restore)
    optimizer: str = _field("adam", "adam or sgd (with momentum)")
    lr: float = _field(1e-3, "learning rate")
    momentum: float = _field(0.9, "SGD momentum (ignored by adam)")
    weight_decay: float = _field(0.0, "L2 weight decay")
    batch_size: int = _field(256, "faces per step")
    epochs: int = _field(100, "maximum epochs (early stopping may end sooner)")
    patience: int = _field(10, "stop after this many epochs without a better validation RMSE")
    flip: bool = _field(True, "random horizontal flip with left/right keypoints swapped")
    # run
    seed: int = _field(0, "seed for weights, batch order and augmentation")
    device: str = _field("auto", "auto (CUDA when present, else CPU), cpu, or cuda[:N]")
    threads: int = _field(0, "CPU threads for torch; 0 = every core (a Ray trial uses its CPU share)")
    amp: str = _field("auto", "bfloat16 autocast: auto (on CUDA and on CPUs with native bf16), bf16, or off (float32)")

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, not '{self.optimizer}'")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {AMP_MODES}, not '{self.amp}'")
        if not 0 <= self.dropout < 2:  # the largest seed rate is 0.5: every rate stays below 1
            raise ValueError(f"dropout must be in [0, 2), not {self.dropout}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), not {self.val_fraction}")
        for name in ("lr", "batch_size", "epochs", "patience"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")

    @classmethod
    def from_dict(cls, values: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
        """`base` (default: the defaults) with `values` applied; unknown keys are an error."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(unknown)}; known: {', '.join(fields)}")
        typed = {k: _coerce(v, type(fields[k].default), k) for k, v in values.items()}
        return dataclasses.replace(base or cls(), **typed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass(frozen=True)
class SearchSettings:
    name: str  # runs/NAME holds everything this search writes
    storage: str  # absolute folder above NAME; on a cluster, one that every node can reach
    space: str  # the search-space YAML
    trials: int  # trials to run in all (a resumed search runs on to this number)
    max_epochs: int  # epoch cap per trial; ASHA's max_t
    grace_period: int  # epochs every trial gets before ASHA may stop it
    reduction_factor: int  # ASHA keeps about 1 in this many trials at each rung
    seed: int  # seeds the TPE sampler and every trial's training
    cpus_per_trial: float  # 0 = decide from the cluster
    gpus_per_trial: float  # -1 = decide from the cluster (1 per trial when GPUs exist); fractions share a GPU
    max_concurrent: int  # 0 = as many as resources allow; 1 makes an Optuna search reproducible
    time_budget_s: float  # stop starting/continuing trials after this long; 0 = no limit
    base: dict  # the fixed TrainConfig part every trial shares (data paths, epochs, seed)

    @property
    def folder(self) -> Path:
        return Path(self.storage) / self.name



SETTINGS = "search.json"  # in runs/NAME: what --resume needs to continue the same search


def latest_search(storage: Path) -> Path | None:
    """The most recently started search folder under storage, or None."""
    runs = sorted((p.parent for p in Path(storage).glob(f"*/{SETTINGS}")), key=lambda p: (p / SETTINGS).stat().st_mtime)
    return runs[-1] if runs else None


def _coerce(value: Any, kind: type, name: str) -> Any:
    if kind is bool and isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{name} must be true or false, not '{value}'")
        return value.lower() in ("true", "1", "yes")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {kind.__name__}, not {value!r}") from None


def config_fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(TrainConfig))
