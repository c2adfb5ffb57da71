"""Search spaces (YAML) shipped with kptune."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_SPACE = CONFIG_DIR / "space.yaml"  # with GPUs: residual nets up to the large size
CPU_SPACE = CONFIG_DIR / "space_cpu.yaml"  # without: the small and mid-size residual nets
SEED_SPACE = CONFIG_DIR / "seed.yaml"  # the seed's nets and knobs only, to compare
DEMO_SPACE = CONFIG_DIR / "demo.yaml"
SMOKE_SPACE = CONFIG_DIR / "smoke.yaml"
