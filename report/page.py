"""One offline HTML page about a search and its ensemble (`python -m report` writes it),
runs/NAME/report/index.html with its PNG figures beside it (no scripts, fonts or styles from the network).

In order: a summary against the mean-face baseline; the leaderboard; every trial's learning curve
(ASHA's early stops apart); Optuna's optimisation history and parameter importances; per-keypoint
error of the best trial and the ensemble; the best- and worst-predicted validation faces; the
ensemble's members against the size budget. Everything is read through the search folder's typed
reader; the page names no path of this machine but the run folder the user gave.
"""

from __future__ import annotations

import html
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from common.errors import UserError
from common.files import write_folder_atomically
from data.keypoints import KEYPOINT_NAMES
from data.split import Split, train_files
from data.transforms import face_rmse, keypoint_rmse, mean_face_rmse
from search.leaderboard import ended, leaderboard, readable
from search.plots import plot_search
from search.results import SearchFolder, TrialRecord, search_started, timed
from training.plots import plot_overlay

if TYPE_CHECKING:
    from ensemble.folder import Manifest

PAGE = "index.html"  # the page, in the search folder's report folder
FACES_SHOWN = 8  # best- and worst-predicted validation faces on the page
ALWAYS_SHOWN = ("trial", "best_val_rmse", "ended")  # leaderboard columns shown even where every trial has the same


def _figure_keypoints(errors: dict[str, np.ndarray], path: Path) -> None:
    fig = Figure(figsize=(12, 3.8))
    ax = fig.subplots()
    width = 0.8 / len(errors)
    for i, (label, values) in enumerate(errors.items()):
        ax.bar(np.arange(15) + i * width, values, width, label=label)
    ax.set_xticks(np.arange(15) + width * (len(errors) - 1) / 2, [n.replace("_", " ") for n in KEYPOINT_NAMES], rotation=35, ha="right", fontsize=8)
    ax.set(ylabel="val RMSE (px)", title="validation error per keypoint")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def _figure_members(members: pd.DataFrame, budget_mb: float, path: Path) -> None:
    fig = Figure(figsize=(12, 1.2 + 0.35 * len(members)))
    ax = fig.subplots()
    left = 0.0
    for i, m in members.iterrows():
        ax.barh(0, m["MB"], left=left, color=f"C{i % 10}", edgecolor="white")
        ax.text(left + m["MB"] / 2, 0, f"{m['arch']}\nw {m['weight']:.2f}", ha="center", va="center", fontsize=7)
        left += m["MB"]
    ax.axvline(budget_mb, color="black", ls=":", label=f"budget {budget_mb:g} MB")
    ax.set(xlim=(0, max(budget_mb, left) * 1.05), yticks=[], xlabel="MB (member files as shipped)", title="ensemble members against the budget")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def optuna_figures(search: SearchFolder, folder: Path) -> list[tuple[str, str]]:
    """Optuna's own matplotlib figures; a figure Optuna cannot draw yet (too few trials) is left out."""
    import matplotlib.pyplot as plt  # Optuna draws with pyplot
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    study = optuna.load_study(study_name=search.settings.name, storage=search.optuna_url)
    drawn = [("optuna_history.png", optuna_plots.plot_optimization_history, "Optuna: optimisation history")]
    if len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))) >= 2:  # one trial has no importances to split
        drawn.append(("optuna_importances.png", optuna_plots.plot_param_importances, "Optuna: parameter importances"))
    figures = []
    for name, draw, caption in drawn:
        try:  # Optuna switches matplotlib to its own style: rc_context puts ours back afterwards
            with warnings.catch_warnings(), plt.rc_context():
                warnings.simplefilter("ignore")  # Optuna's matplotlib figures are marked experimental
                ax = draw(study)
                ax.figure.set_size_inches(9, 4)
                ax.figure.tight_layout()
                ax.figure.savefig(folder / name, dpi=90)
                plt.close(ax.figure)
            figures.append((name, caption))
        except (ValueError, RuntimeError) as err:
            print(f"report: {caption} left out ({err})", file=sys.stderr)
    return figures


def varying_columns(board: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The leaderboard's columns that differ between trials, and the others in words: constant columns would
    push the scores off a laptop's screen. A trial's id, score and how it ended always stay."""
    same = [c for c in board.columns if c not in ALWAYS_SHOWN and board[c].nunique(dropna=False) == 1]
    return board.drop(columns=same), ", ".join(f"{c} {board[c].iloc[0]}" for c in same if str(board[c].iloc[0]) not in ("", "nan", "None"))


def _table(frame: pd.DataFrame) -> str:
    """A table that scrolls inside the page rather than widening it."""
    return f"<div class='scroll'>{frame.to_html(index=False, border=0, classes='table', na_rep='', escape=True)}</div>"


def write_report(search: SearchFolder) -> Path:
    """Write runs/NAME/report/ atomically; returns its page."""
    settings = search.settings
    trials = search.trials()
    usable = [t for t in trials if t.usable]
    if not usable:
        raise UserError(str(search.folder), "no trial with a checkpoint yet: nothing to report")
    best = min(usable, key=lambda t: t.best_val_rmse)
    split = best.checkpoint.config.load_split()
    baseline = mean_face_rmse(split.train.keypoints, split.val.keypoints)
    ensemble = _ensemble(search, split)

    def fill(folder: Path) -> None:
        sections = _sections(search, trials, best, split, baseline, ensemble, folder)
        (folder / PAGE).write_text(_page(settings.name, sections))

    return write_folder_atomically(search.report_folder, fill) / PAGE


def _ensemble(search: SearchFolder, split: Split):
    """(manifest, validation predictions) of the search's ensemble, or None when none was built."""
    from ensemble.ensemble import Ensemble
    from ensemble.folder import is_ensemble

    if not is_ensemble(search.ensemble_folder):
        return None
    ensemble = Ensemble(search.ensemble_folder)
    return ensemble.manifest, ensemble.predict(split.val.images)


def _sections(search: SearchFolder, trials: list[TrialRecord], best: TrialRecord, split: Split, baseline: float, ensemble, folder: Path) -> list[str]:
    settings, targets = search.settings, split.val.keypoints
    wall = _wall_seconds(trials)
    machine = search.machine
    summary = {
        "data": f"{', '.join(Path(f).name for f in train_files(best.checkpoint.config.train))} ({len(split.train)} training faces), "
                f"validation: {Path(best.checkpoint.config.val).name if best.checkpoint.config.val else 'a seeded hold-out of train'} ({len(split.val)} faces)",
        "trials": f"{len(trials)} of {settings.trials} started: "
                  + ", ".join(f"{n} {how}" for how, n in Counter(ended(t, settings) for t in trials).most_common()),
        "mean-face baseline": f"{baseline:.3f} px (predicting the average training face)",
        "best trial": f"{best.id} ({best.config.arch}): {best.best_val_rmse:.3f} px, {best.best_val_rmse / baseline:.0%} of the baseline",
        "ensemble": f"{ensemble[0].val_rmse:.3f} px with {len(ensemble[0].members)} members, {ensemble[0].total_mb:.1f} MB "
                    f"(measured on the faces it was selected on: optimistic)" if ensemble else "none built yet (python -m ensemble.build)",
        "wall time": f"{wall / 60:.1f} min of trials" if wall else "unknown",
        "machine": f"{machine.get('cpus', '?')} CPUs ({machine.get('processor', '?')}), "
                   f"{'bf16 native' if machine.get('native_bf16') else 'no native bf16'}, GPU: {machine.get('gpu') or 'none'}" if machine else "not recorded",
        "search": f"space {Path(settings.space).name}, {settings.trials} trials, up to {settings.max_epochs} epochs, "
                  f"{settings.rungs_in_words}, seed {settings.seed}",
        "started from": "; ".join(f"{arch}: the weights of {Path(folder).parent.name}/{Path(folder).name}" for arch, folder in settings.init.items())
                        + ("; any other architecture: random weights" if settings.init else "random weights (no --init)"),
    }
    if search.labels:
        labels = search.labels
        summary["labels filled"] = (f"{labels['coordinates_filled']} of {labels['coordinates']} coordinates in {labels['faces_filled']} of "
                                    f"{labels['faces']} faces of {Path(labels['train']).name}, written to {Path(labels['out']).name} (ensemble.label)")
    sections = ["<h2>Summary</h2><table class='summary'>" +
                "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary.items()) + "</table>"]

    board, same = varying_columns(readable(leaderboard(trials, settings)))
    sections.append(f"<h2>Leaderboard</h2><p>{len(board)} trials, best first.{f' The same for every trial: {same}.' if same else ''}</p>"
                    + _table(board))

    plot_search(trials, folder / "curves.png", baseline_px=baseline, max_epochs=settings.max_epochs)
    sections.append(_figure("curves.png", "Learning curves: validation RMSE per epoch (log scale); right: each trial's best against "
                                         "the minute it came, and the best so far; dotted: the mean face"))

    for name, caption in optuna_figures(search, folder):
        sections.append(_figure(name, caption))

    errors = {f"best trial {best.id}": keypoint_rmse(best.checkpoint.val.predictions, targets)}
    if ensemble:
        errors["ensemble"] = keypoint_rmse(ensemble[1], targets)
    _figure_keypoints(errors, folder / "keypoints.png")
    sections.append(_figure("keypoints.png", "Validation RMSE per keypoint (px)"))

    predictions, who = (ensemble[1], "ensemble") if ensemble else (best.checkpoint.val.predictions, f"trial {best.id}")
    per_face = face_rmse(predictions, targets)
    order = np.argsort(per_face)
    for name, chosen, words in (("faces_best.png", order[:FACES_SHOWN], "best"), ("faces_worst.png", order[::-1][:FACES_SHOWN], "worst")):
        plot_overlay(split.val.images[chosen], predictions[chosen], folder / name, targets=targets[chosen], n=FACES_SHOWN,
                     titles=[f"{per_face[i]:.2f} px" for i in chosen], suptitle=f"the {FACES_SHOWN} {words}-predicted validation faces ({who})",
                     origin=best.checkpoint.config.origin)
        sections.append(_figure(name, f"The {words}-predicted validation faces ({who}), RMSE per face"))

    if ensemble:
        manifest = ensemble[0]
        members = pd.DataFrame([{"member": m.name, "arch": m.arch, "weight": m.weight, "MB": m.size_mb, "val RMSE (px)": m.val_rmse}
                                for m in manifest.members])
        _figure_members(members, manifest.budget_mb, folder / "members.png")
        h = manifest.heldout
        shipped = f", with flip TTA as shipped {h.flip_tta_ensemble_rmse:.3f} px" if h and h.flip_tta_ensemble_rmse is not None else ""
        honest = (f" Held out from the selection (members chosen on half the validation faces, scored on the other half, both ways): "
                  f"ensemble {h.ensemble_rmse:.3f} px{shipped}, best single trial {h.best_single_rmse:.3f} px; the "
                  "figure before was chosen and scored on the same faces, so it flatters (each trial's kept epoch was chosen on "
                  "all of them, in both)." if h else "")
        bias = (f" Each member's bias (its mean error on training faces) comes off its answers: without that, "
                f"{manifest.val_rmse_with_bias:.3f} px. With flip TTA (submissions' default): {manifest.flip_tta_val_rmse:.3f} px."
                if manifest.val_rmse_with_bias is not None else "")
        sections.append(f"<h2>Ensemble</h2><p>{manifest.dtype} weights, {manifest.total_mb:.1f} of {manifest.budget_mb:g} MB, "
                        f"validation RMSE {manifest.val_rmse:.3f} px.{bias}{honest}</p>" + _table(members.round(3)) +
                        _figure("members.png", "Members by size against the budget, with their weights"))
    sections += _student(search) + _refit(search, ensemble[0] if ensemble else None)
    return sections


def _student(search: SearchFolder) -> list[str]:
    """The distilled student against its teacher, when ensemble.distill wrote one."""
    from ensemble.folder import is_ensemble, read_ensemble

    if not is_ensemble(search.student_folder):
        return []
    manifest = read_ensemble(search.student_folder)[0]
    d, member = manifest.distilled, manifest.members[0]
    heldout = f", {d.teacher_heldout_rmse:.3f} px held out" if d.teacher_heldout_rmse else ""
    extra = f", plus {d.unlabelled_faces} unlabelled faces of {Path(d.unlabelled).name}" if d.unlabelled else ""
    return [f"<h2>Distilled student</h2><p>One {html.escape(member.arch)} of {member.size_mb:.2f} MB ({manifest.dtype}) trained on the "
            f"ensemble's predictions (true labels' share {d.blend:g}{html.escape(extra)}) in {d.seconds / 60:.1f} min: validation RMSE "
            f"{manifest.val_rmse:.3f} px, against the ensemble's {d.teacher_val_rmse:.3f} px{heldout}.</p>"]


def _refit(search: SearchFolder, built: Manifest | None) -> list[str]:
    """The ensemble refitted on train + val, when ensemble.refit wrote one; flagged when its members are
    not those of `built` (the search's ensemble now, None when there is none)."""
    from ensemble.folder import is_ensemble, read_ensemble

    if not is_ensemble(search.refit_folder):
        return []
    manifest = read_ensemble(search.refit_folder)[0]
    r = manifest.refit
    stale = built is None or [(m.name, m.weight) for m in built.members] != [(m.name, m.weight) for m in manifest.members]
    note = " <strong>They are the members of an earlier build: run ensemble.refit again.</strong>" if stale else ""
    return [f"<h2>Refitted ensemble</h2><p>The ensemble's {len(manifest.members)} members trained again with their own configs on the "
            f"training and validation faces together ({r.train_faces} faces) in {r.seconds / 60:.1f} min, in "
            f"<code>{html.escape(search.refit_folder.name)}/</code>. It has no validation score of its own: it trained on those faces; "
            f"the figures above are the searched weights'.{note}</p>"]


def _wall_seconds(trials: list[TrialRecord]) -> float:
    trials = timed(trials)
    return max(float(t.history["timestamp"].max()) for t in trials) - search_started(trials) if trials else 0.0


def _figure(name: str, caption: str) -> str:
    return f"<figure><img src='{name}' alt='{html.escape(caption)}'><figcaption>{html.escape(caption)}</figcaption></figure>"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1180px;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}table{border-collapse:collapse;font-size:.85em}
th,td{padding:.2em .6em;text-align:left;border-bottom:1px solid #eee}.summary th{width:12em}img{max-width:100%}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}.scroll{overflow-x:auto}"""


def _page(name: str, sections: list[str]) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>kptune: {html.escape(name)}</title>"
            f"<style>{STYLE}</style></head><body><h1>kptune search <code>{html.escape(name)}</code></h1>{''.join(sections)}</body></html>\n")
