"""One vocabulary across the commands: the runs folder is --runs-dir, a run --run, an ensemble folder
--ensemble and the file written --out everywhere; each older spelling still parses to the same."""

import pytest

import ensemble.build
import ensemble.distill
import ensemble.refit
import search.run
import training.train


def _parse(command, argv):
    args = vars(training.train.parser().parse_args(argv) if command is training.train else command.parse_args(argv))
    return {k: v for k, v in args.items() if k != "given"}  # search.run's record of the flags as typed


@pytest.mark.parametrize(("command", "old", "new"), [
    (search.run, ["--storage", "r", "--name", "s"], ["--runs-dir", "r", "--run", "s"]),
    (search.run, ["--no-dashboard", "--no-report"], ["--no-dashboard", "--no-report"]),
    (ensemble.build, ["--max-mb", "5", "--ensemble-dir", "e"], ["--max-mb", "5", "--ensemble", "e"]),
    (ensemble.refit, ["--ensemble-dir", "e"], ["--ensemble", "e"]),
    (ensemble.distill, ["--max-mb", "5", "--out", "e"], ["--max-mb", "5", "--ensemble", "e"]),
    (training.train, ["--out", "c", "--flip", "false"], ["--checkpoint", "c", "--no-flip"]),
])
def test_an_old_spelling_parses_as_its_new_one(command, old, new):
    assert _parse(command, old) == _parse(command, new)


def test_a_search_shows_the_dashboard_and_writes_its_report_unless_told_not_to():
    args = search.run.parse_args([])
    assert args.dashboard and args.report
    assert not search.run.parse_args(["--no-dashboard"]).dashboard
