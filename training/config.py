"""TrainConfig: everything one training run needs, frozen, saved in every checkpoint.

Overrides (CLI flags, search-space samples, a config.json read back) go through `from_dict`, which
rejects unknown keys and coerces types, so a typo is an error instead of a silently ignored knob.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from data.augment import AUGMENTATIONS, default_ranges
from models import list_models

from .losses import LOSSES
from .optim import OPTIMIZERS, SCHEDULES

if TYPE_CHECKING:
    from data.split import Split

AMP_MODES = ("auto", "bf16", "off")
AUTO = "auto"  # label_origin: estimate it from the training faces


def _field(default: Any, help: str) -> Any:
    """A dataclass field whose comment travels with it (shown by --help)."""
    return field(default=default, metadata={"help": help})


CHOICES = {"optimizer": tuple(OPTIMIZERS), "schedule": tuple(SCHEDULES), "loss": tuple(LOSSES), "amp": AMP_MODES}  # fields of a few names


@dataclass(frozen=True)
class TrainConfig:
    # data
    train: str = _field("", "train CSV (.csv/.csv.gz), or several trained on together (saved joined by the OS's path "
                            "separator, data.split); empty = built-in synthetic demo data")
    val: str = _field("", "validation CSV; empty = hold out val_fraction of train")
    val_fraction: float = _field(0.15, "share of train held out for validation when no val file is given")
    split_seed: int = _field(0, "seed of the train/validation split (shared by every trial of a search)")
    label_origin: float | str = _field(AUTO, "where the labels put the top-left pixel's centre, px: 0 (pixel column c at x = c), 1 "
                                       "(1-based labels), 0.5 (pixel edges at whole numbers), or auto: estimated from the "
                                       "training faces (data.origin). Flips mirror about x = 47.5 + this")
    # model
    arch: str = _field("vgg_opt", "architecture name from `python -m models`")
    dropout: float = _field(1.0, "factor on the architecture's dropout rates: 1 = the seed's, 0 = none")
    init: str = _field("", "a checkpoint folder (a search's trial, training.train --checkpoint) or a weights file (an ensemble's "
                           "member, a student's) whose weights the net starts from: each tensor whose name and shape match loads, "
                           "the others keep their random start; empty: random")
    head_epochs: int = _field(0, "train only the head for this many first epochs, the backbone frozen (its batch-norm statistics "
                                 "too): with init, a random head's first gradients cannot undo what the backbone learned; 0: all "
                                 "layers train from the start")
    # optimisation (defaults: the seed's recipe, Adam at a constant lr, batch 256, masked MSE, early
    # stopping with the best weights restored)
    optimizer: str = _field("adam", "adam, adamw (decoupled weight decay) or sgd (with momentum)")
    lr: float = _field(1e-3, "learning rate (one-cycle: its peak)")
    momentum: float = _field(0.9, "SGD momentum (ignored by adam and adamw)")
    weight_decay: float = _field(0.0, "weight decay (L2 for adam and sgd, decoupled for adamw)")
    schedule: str = _field("constant", "learning-rate schedule stepped per batch over `epochs`: constant, cosine or onecycle")
    warmup: float = _field(0.0, "share of the steps with a linear warm-up from lr/25 (onecycle: its rising phase, 0 = 0.3)")
    grad_clip: float = _field(0.0, "clip the gradient's norm to this; 0 = no clipping")
    ema: float = _field(0.0, "half-life in epochs of an exponential moving average of the weights, which are then the ones "
                             "evaluated, kept and shipped; 0 = off")
    loss: str = _field("mse", "mse, smooth_l1 or wing (all skip missing coordinates)")
    filled_weight: float = _field(1.0, "weight in the loss of a coordinate an ensemble filled in (ensemble.label), against 1 "
                                       "for a true label; 0 = ignore them")
    batch_size: int = _field(256, "faces per step")
    epochs: int = _field(100, "maximum epochs (early stopping may end sooner); schedules span all of them")
    patience: int = _field(10, "stop after this many epochs without a better validation RMSE")
    refit: bool = _field(False, "train on the validation faces too, through every epoch, keeping the last epoch's weights "
                                "(ensemble.refit): more faces, and no honest validation score")
    stop_epoch: int = _field(0, "end the run after this epoch, its schedule still spanning `epochs` (ensemble.refit: where the "
                                "selected weights were kept); 0 = at `epochs`")
    # augmentation, on the fly (aug = 0: flip only, the seed's recipe)
    flip: bool = _field(True, "random horizontal flip with left/right keypoints swapped")
    aug: float = _field(0.0, "strength of the registered augmentations: scales every range in `augment`")
    augment: dict = field(default_factory=default_ranges, metadata={"help": "range of each augmentation at aug = 1, by name: "
                          + ", ".join(f"{name} ({op.what}, {op.default:g})" for name, op in AUGMENTATIONS.items())
                          + "; given as name=range,... on the command line, the ones not named keep their range"})
    # run
    seed: int = _field(0, "seed for weights, batch order and augmentation")
    device: str = _field("auto", "auto (CUDA when present, else CPU), cpu, or cuda[:N]")
    threads: int = _field(0, "CPU threads for torch; 0 = every core (a Ray trial uses its CPU share)")
    amp: str = _field("auto", "bfloat16 autocast: auto (on CUDA and on CPUs with native bf16), bf16, or off (float32)")
    compile: bool = _field(False, "torch.compile the network for training (inductor): each batch shape compiles once, "
                                  "then epochs may run faster (bench.speed --sections compile measures it)")

    def __post_init__(self):
        for name, known in CHOICES.items():
            if getattr(self, name) not in known:
                raise ValueError(f"{name} must be one of {', '.join(known)}, not '{getattr(self, name)}'")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must be in [0, 1), not {self.warmup}")
        unknown = sorted(set(self.augment) - set(AUGMENTATIONS))
        if unknown or any(v < 0 for v in self.augment.values()):
            raise ValueError(f"augment takes ranges of 0 or more for {', '.join(AUGMENTATIONS)}, not {self.augment}")
        for name in ("grad_clip", "ema", "aug", "filled_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)}")
        if not 0 <= self.dropout < 2:  # the largest seed rate is 0.5: every rate stays below 1
            raise ValueError(f"dropout must be in [0, 2), not {self.dropout}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), not {self.val_fraction}")
        for name in ("lr", "batch_size", "epochs", "patience"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if not 0 <= self.head_epochs <= self.epochs:
            raise ValueError(f"head_epochs must be from 0 to epochs ({self.epochs}), not {self.head_epochs}")
        if not 0 <= self.stop_epoch <= self.epochs:
            raise ValueError(f"stop_epoch must be from 0 to epochs ({self.epochs}), not {self.stop_epoch}")
        if self.label_origin != AUTO and not isinstance(self.label_origin, float):
            raise ValueError(f"label_origin must be a number of pixels or auto, not {self.label_origin!r}")
        if self.arch not in list_models():
            raise ValueError(f"unknown architecture '{self.arch}' (python -m models lists them: {', '.join(list_models())})")

    @property
    def last_epoch(self) -> int:
        """The epoch the run ends after at the latest."""
        return self.stop_epoch or self.epochs

    @property
    def origin(self) -> float:
        """The label origin, px (data.origin); known once `with_label_origin` has resolved auto."""
        if self.label_origin == AUTO:
            raise RuntimeError("label_origin is still auto: resolve it with with_label_origin(split) first")
        return self.label_origin

    def with_label_origin(self, split: Split) -> TrainConfig:
        """This config with label_origin auto replaced by the convention its training faces follow."""
        if self.label_origin != AUTO:
            return self
        from data.origin import infer_origin

        return dataclasses.replace(self, label_origin=infer_origin(split.train))

    @classmethod
    def from_dict(cls, values: dict[str, Any], base: TrainConfig | None = None) -> TrainConfig:
        """`base` (default: the defaults) with `values` applied; unknown keys are an error."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(unknown)}; known: {', '.join(fields)}")
        base = base or cls()
        typed = {k: _label_origin(v) if k == "label_origin" else _ranges(v, base.augment) if k == "augment" else
                 _coerce(v, type(fields[k].default), k) for k, v in values.items()}
        return dataclasses.replace(base, **typed)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def load_split(self) -> Split:
        """The train/validation faces this config names: its val file, or its seeded hold-out of train."""
        from data.split import make_split  # imported here: trials get their faces from Ray instead

        return make_split(self.train, self.val or None, val_fraction=self.val_fraction, seed=self.split_seed)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_saved(json.loads(Path(path).read_text()))

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> TrainConfig:
        """A config saved with a checkpoint, an ensemble or a search. Those saved before label_origin
        existed were trained in the pixel-index convention: origin 0; those saved before `augment` held
        each range in a field of its own, aug_NAME."""
        values = {"label_origin": 0.0, **values}
        ranges = {name: values.pop(f"aug_{name}") for name in AUGMENTATIONS if f"aug_{name}" in values}
        return cls.from_dict({**values, "augment": {**ranges, **values.get("augment", {})}} if ranges else values)


def _coerce(value: Any, kind: type, name: str) -> Any:
    if kind is bool and isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{name} must be true or false, not '{value}'")
        return value.lower() in ("true", "1", "yes")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {kind.__name__}, not {value!r}") from None


def _ranges(value: Any, base: dict[str, float]) -> dict[str, float]:
    """Augmentation ranges: a dict, or "name=range,..." from a flag, applied over `base`."""
    if isinstance(value, str):
        try:
            value = dict(item.split("=") for item in value.replace(" ", "").split(",") if item)
        except ValueError:
            raise ValueError(f"augment must be name=range,... (e.g. rotate=10,noise=0), not {value!r}") from None
    try:
        return {**base, **{str(k): float(v) for k, v in dict(value).items()}}
    except (TypeError, ValueError):
        raise ValueError(f"augment ranges must be numbers, not {value!r}") from None


def _label_origin(value: Any) -> float | str:
    """auto, or a number of pixels (given as a number or as text, e.g. "1" from a flag or "1.0" as saved
    before this field was typed)."""
    if value == AUTO:
        return AUTO
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"label_origin must be a number of pixels or auto, not {value!r}") from None


def config_fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(TrainConfig))
