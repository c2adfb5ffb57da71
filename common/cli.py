"""The flags every command spells alike: where searches are, which one, and an ensemble folder. Older
spellings stay accepted (second in each list) so that nobody's script breaks."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_run_args(parser: argparse.ArgumentParser, run_help: str | None) -> None:
    """--runs-dir (once --storage) and --run (once --name; not added when `run_help` is None)."""
    parser.add_argument("--runs-dir", "--storage", dest="runs_dir", type=Path, default=Path("runs"),
                        help="the folder of searches, runs/RUN each (default runs/; on a cluster one every node reaches)")
    if run_help is not None:
        parser.add_argument("--run", "--name", dest="run", help=run_help)


def add_ensemble_arg(parser: argparse.ArgumentParser, help: str, *, old: str | None = None, required: bool = False) -> None:
    """--ensemble: an ensemble folder, read or written (`old`: the spelling it had in this command)."""
    names = ["--ensemble", old] if old else ["--ensemble"]
    parser.add_argument(*names, dest="ensemble", type=Path, required=required, help=help)


def add_report_arg(parser: argparse.ArgumentParser, when: str) -> None:
    """--report / --no-report: whether the command refreshes the search's report page (`when`: at what point)."""
    parser.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                        help=f"refresh the search's report page {when} (default: yes; python -m report writes it later)")
