"""`python -m report [--run NAME]`: the search's report page (report.page), written or refreshed."""

from __future__ import annotations

import argparse

import matplotlib
import optuna

from common.cli import add_run_args
from common.errors import UserError, exits_on_bad_input
from search.results import SearchFolder, latest_search

from .page import write_report


@exits_on_bad_input
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m report", description=__doc__.split("\n\n")[0])
    add_run_args(parser, "the search to report on (default: the latest)")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")  # files only, no display: this process draws and exits
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # Optuna's per-study INFO lines are not the report's
    search = SearchFolder(args.runs_dir / args.run) if args.run else latest_search(args.runs_dir)
    if search is None or not search.is_search():
        raise UserError(str(args.runs_dir / (args.run or "")), "no search here (run `python -m search.run` first)")
    print(f"report: {write_report(search)}")


if __name__ == "__main__":
    main()
