"""Search spaces (YAML) shipped with kptune."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_SPACE = CONFIG_DIR / "space.yaml"  # with GPUs
CPU_SPACE = CONFIG_DIR / "space_cpu.yaml"  # without: no vgg16 family (10 min an epoch on 2 cores)
DEMO_SPACE = CONFIG_DIR / "demo.yaml"
SMOKE_SPACE = CONFIG_DIR / "smoke.yaml"
