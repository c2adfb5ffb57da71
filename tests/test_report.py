"""The search report: one offline page over a smoke search and its ensemble."""

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from data.transforms import keypoint_rmse
from ensemble.candidates import load_candidates
from report.page import PAGE, optuna_figures, varying_columns, write_report
from search.results import SearchFolder


@pytest.fixture
def report(smoke_search):
    """index.html of the smoke search, as `ensemble.build` refreshed it with the search's ensemble."""
    return SearchFolder(smoke_search).report_folder / PAGE


def test_every_image_and_link_on_the_page_exists(report):
    page = report.read_text()
    references = re.findall(r"(?:src|href)='([^']+)'", page)
    assert len(references) >= 6  # curves, keypoints, best and worst faces, members, Optuna history at least
    for reference in references:
        assert (report.parent / reference).is_file(), reference


def test_the_leaderboard_has_one_row_per_trial(report, smoke_search):
    page = report.read_text()
    table = page.split("<h2>Leaderboard</h2>")[1].split("</table>")[0]
    rows = re.findall(r"<tr>", table.split("<tbody>")[1])
    assert len(rows) == len(SearchFolder(smoke_search).trials()) == 3


def test_the_page_names_no_path_of_this_machine(report, tiny_data, smoke_search):
    page = report.read_text()
    for path in re.findall(r"(?<![\w.])/(?:tmp|home|root|usr|var|work|mnt)/[^\s'\"<]*", page):
        assert path.startswith(str(smoke_search)), path
    assert str(tiny_data[0].parent) not in page


def test_the_page_needs_nothing_from_the_network(report):
    assert not re.search(r"(?:src|href)=['\"](?:https?:)?//", report.read_text())


def test_report_cli_writes_the_page_of_the_latest_search(smoke_copy, capsys):
    from report.__main__ import main

    shutil.rmtree(SearchFolder(smoke_copy).report_folder)
    main(["--runs-dir", str(smoke_copy.parent)])
    page = Path(capsys.readouterr().out.split("report: ")[1].strip())
    assert page.is_file() and page.parent == SearchFolder(smoke_copy).report_folder


def test_a_build_with_no_report_leaves_the_page_as_it_was(smoke_copy, cli):
    from ensemble.build import main as build

    page = SearchFolder(smoke_copy).report_folder / PAGE
    before = page.read_text()
    page.write_text(before.replace("<h2>Ensemble</h2>", "<h2>Ensemble as the last refresh left it</h2>"))
    built = cli(build, "--max-mb", "10", "--runs-dir", smoke_copy.parent, "--run", "smoke", "--no-report")
    assert built.code == 0, built.err
    assert "<h2>Ensemble as the last refresh left it</h2>" in page.read_text()  # untouched
    assert cli(build, "--max-mb", "10", "--runs-dir", smoke_copy.parent, "--run", "smoke").code == 0
    assert page.read_text().count("<h2>Ensemble</h2>") == 1  # the default refreshes it


@pytest.mark.parametrize("finished, figures", [(1, ["optuna_history.png"]), (2, ["optuna_history.png", "optuna_importances.png"])])
def test_parameter_importances_are_drawn_from_two_finished_trials(tmp_path, finished, figures):
    import optuna

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="s", storage=url).optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-2), n_trials=finished)
    search = SimpleNamespace(settings=SimpleNamespace(name="s"), optuna_url=url)  # all optuna_figures reads of a search
    assert [name for name, _ in optuna_figures(search, tmp_path)] == figures


def test_keypoint_error_is_over_both_coordinates_of_each_keypoint():
    targets = np.zeros((2, 30))
    predictions = np.zeros((2, 30))
    predictions[:, 0] = 3.0  # keypoint 0: x off by 3 px, y exact
    targets[1, 2:4] = np.nan  # keypoint 1 unlabelled in face 1
    errors = keypoint_rmse(predictions, targets)
    assert errors[0] == pytest.approx(np.sqrt(9 / 2)) and errors[1] == 0 and errors.shape == (15,)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_a_real_browser_renders_the_page_with_no_failed_request(report, tmp_path):
    from playwright.sync_api import sync_playwright

    failed = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
        page.goto(report.as_uri(), wait_until="load")
        images = page.eval_on_selector_all("img", "images => images.map(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert not failed and images and all(images)
    from matplotlib.image import imread

    pixels = imread(tmp_path / "report.png")
    assert pixels.shape[1] == 1280  # nothing widens the page past the window: readable at 1280 px
    assert pixels[..., :3].std() > 0.05  # not a blank page


def test_the_ensemble_section_gives_the_manifests_held_out_scores(report, smoke_search):
    from ensemble.folder import read_ensemble

    h = read_ensemble(SearchFolder(smoke_search).ensemble_folder)[0].heldout
    section = report.read_text().split("<h2>Ensemble</h2>")[1]
    assert (f"Held out from the selection (members chosen on half the validation faces, scored on the other half, both ways): "
            f"ensemble {h.ensemble_rmse:.3f} px, with flip TTA as shipped {h.flip_tta_ensemble_rmse:.3f} px, best single trial "
            f"{h.best_single_rmse:.3f} px") in section


def test_the_ensemble_section_says_what_its_members_biases_were_worth(report, smoke_search):
    from ensemble.folder import read_ensemble

    m = read_ensemble(SearchFolder(smoke_search).ensemble_folder)[0]
    section = report.read_text().split("<h2>Ensemble</h2>")[1]
    assert (f"validation RMSE {m.val_rmse:.3f} px. Each member's bias (its mean error on training faces) comes off its answers: without "
            f"that, {m.val_rmse_with_bias:.3f} px. With flip TTA (submissions' default): {m.flip_tta_val_rmse:.3f} px") in section


def test_a_distilled_student_is_shown_against_its_teacher(smoke_copy):
    from ensemble.folder import Distilled, Manifest, Member, member_bytes, member_file, write_ensemble
    from models import create_model

    search = SearchFolder(smoke_copy)
    config = load_candidates(search.folder)[0].config
    student = Member("student-cnn_gap", "cnn_gap", member_file("student-cnn_gap"), 1.0, 0.18, 3.5, config.to_dict())
    manifest = Manifest([student], 3.5, 0.18, 5, "fp32", False, 0.0, str(search.folder), {}, "cpu", None,
                        Distilled(str(search.ensemble_folder), 3.2, 3.3, 0.5, None, 0, 90.0))
    write_ensemble(search.student_folder, manifest, {student.name: member_bytes(create_model("cnn_gap").state_dict())})
    section = write_report(search).read_text().split("<h2>Distilled student</h2>")[1]
    assert "validation RMSE 3.500 px, against the ensemble's 3.200 px, 3.300 px held out" in section


def test_a_refitted_ensemble_is_shown_and_flagged_once_the_ensemble_is_built_again(smoke_copy):
    import dataclasses

    from ensemble.folder import Refit, read_ensemble, write_ensemble

    search = SearchFolder(smoke_copy)
    built = read_ensemble(search.ensemble_folder)[0]
    files = {m.name: (search.ensemble_folder / m.file).read_bytes() for m in built.members}
    refit = dataclasses.replace(built, refit=Refit(str(search.ensemble_folder), 60, 120.0))
    write_ensemble(search.refit_folder, refit, files)
    section = write_report(search).read_text().split("<h2>Refitted ensemble</h2>")[1]
    assert "(60 faces) in 2.0 min" in section and "earlier build" not in section

    reweighted = [dataclasses.replace(m, weight=m.weight / 2) for m in built.members]
    write_ensemble(search.refit_folder, dataclasses.replace(refit, members=reweighted), files)
    assert "members of an earlier build" in write_report(search).read_text().split("<h2>Refitted ensemble</h2>")[1]


def test_the_page_leaderboard_names_the_columns_every_trial_shares_once_instead_of_showing_them():
    board = pd.DataFrame({"trial": ["a", "b"], "lr": ["1e-3", "2e-3"], "optimizer": ["adamw", "adamw"], "momentum": ["", ""],
                          "best_val_rmse": ["1.5", "1.5"], "ended": ["finished", "finished"]})
    shown, same = varying_columns(board)
    assert list(shown.columns) == ["trial", "lr", "best_val_rmse", "ended"]
    assert same == "optimizer adamw"


def test_the_summary_says_how_many_of_the_planned_trials_started_and_how_they_ended(report):
    summary = report.read_text().split("<h2>Summary</h2>")[1].split("</table>")[0]
    assert "<th>trials</th><td>3 of 3 started: 3 finished</td>" in summary
