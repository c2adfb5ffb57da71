"""Search spaces (YAML) shipped with kptune."""

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_SPACE = CONFIG_DIR / "space.yaml"
DEMO_SPACE = CONFIG_DIR / "demo.yaml"
SMOKE_SPACE = CONFIG_DIR / "smoke.yaml"
