"""Search spaces (YAML) shipped with kptune."""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_SPACE = CONFIG_DIR / "space.yaml"  # with GPUs: residual nets up to the large size
CPU_SPACE = CONFIG_DIR / "space_cpu.yaml"  # without: the small and mid-size residual nets
SEED_SPACE = CONFIG_DIR / "seed.yaml"  # the seed's nets and knobs only, to compare
DEMO_SPACE = CONFIG_DIR / "demo.yaml"
SMOKE_SPACE = CONFIG_DIR / "smoke.yaml"

TRIAL_EPOCHS = 72  # the schedule of a searched trial by default (search.run) and of training.train


def start_recipe(space: Path = CPU_SPACE, index: int = 0) -> dict:
    """A space's fixed values with its start point `index`: a whole recipe, as TrainConfig values (the
    CPU space's first is the best recipe kptune knows for a laptop: training.train's default)."""
    import yaml

    raw = yaml.safe_load(space.read_text())
    fixed = {name: value for name, value in raw.items() if name != "start" and not isinstance(value, dict)}
    return {**fixed, **raw["start"][index]}
