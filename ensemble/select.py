"""Greedy forward selection with replacement under a size budget (Caruana et al. 2004, as in
auto-sklearn's and AutoGluon's weighted ensembles)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import UserError
from data.transforms import rmse_px

from .folder import HeldOut


@dataclass(frozen=True)
class Selection:
    counts: np.ndarray  # (M,) how often each candidate was picked; weight = count / counts.sum()
    val_rmse: float  # of the weighted average, pixels
    size_bytes: int  # total of the distinct members' files

    @property
    def weights(self) -> np.ndarray:
        return self.counts / self.counts.sum()


def near_the_best(scores: np.ndarray, mean_face_rmse: float, share: float) -> np.ndarray:
    """(M,) bool: the candidates whose own validation RMSE (`scores`, px) lies less than `share` of the way from
    the best candidate's to the mean face's: the others learned little more than the average face, and a
    small weight of theirs that helps on the validation faces fits those faces rather than faces in general."""
    best = scores.min()
    return scores <= best + share * max(mean_face_rmse - best, 0.0)


def select(predictions: np.ndarray, targets: np.ndarray, sizes: np.ndarray, budget_bytes: float, rounds: int = 50) -> Selection:
    """predictions (M, N, 30) px of M candidates on the same validation faces; sizes (M,) bytes.

    Each round adds the candidate (again, possibly) whose addition gives the lowest validation RMSE of
    the running average, among those that keep the distinct members within the budget. Returns the
    best ensemble seen on the way, so it is never worse than the best single candidate that fits.
    """
    if sizes.min() > budget_bytes:
        raise UserError("--max-mb", f"budget {budget_bytes / 1e6:g} MB is below the smallest candidate ({sizes.min() / 1e6:.2f} MB)")
    counts = np.zeros(len(predictions), dtype=int)
    total = np.zeros_like(predictions[0])
    best: Selection | None = None
    for _ in range(rounds):
        used = sizes[counts > 0].sum()
        fits = [m for m in range(len(predictions)) if counts[m] or used + sizes[m] <= budget_bytes]
        if not fits:
            break
        k = counts.sum() + 1
        scores = [rmse_px((total + predictions[m]) / k, targets) for m in fits]
        pick = fits[int(np.argmin(scores))]
        counts[pick] += 1
        total += predictions[pick]
        if best is None or min(scores) < best.val_rmse:
            best = Selection(counts.copy(), min(scores), int(sizes[counts > 0].sum()))
    return best


def cross_fit(predictions: np.ndarray, targets: np.ndarray, sizes: np.ndarray, budget_bytes: float, rounds: int, seed: int,
              flipped: np.ndarray | None = None) -> HeldOut:
    """The selection's score on faces it did not see: the validation faces split in two halves (seeded);
    an ensemble selected on one half predicts the other, both ways, and so does the best single
    candidate that fits (best on the selecting half). Shapes as in `select`; `flipped`, the candidates'
    predictions with flip TTA, gives the same ensembles' held-out score as submissions predict."""
    halves = np.array_split(np.random.default_rng(seed).permutation(len(targets)), 2)
    ensemble, single, ensemble_flipped = np.empty_like(targets), np.empty_like(targets), np.empty_like(targets)
    fits = np.flatnonzero(sizes <= budget_bytes)
    for chosen_on, scored_on in (halves, halves[::-1]):
        selection = select(predictions[:, chosen_on], targets[chosen_on], sizes, budget_bytes, rounds)
        ensemble[scored_on] = np.tensordot(selection.weights, predictions[:, scored_on], axes=1)
        if flipped is not None:
            ensemble_flipped[scored_on] = np.tensordot(selection.weights, flipped[:, scored_on], axes=1)
        best = fits[np.argmin([rmse_px(predictions[m, chosen_on], targets[chosen_on]) for m in fits])]
        single[scored_on] = predictions[best, scored_on]
    return HeldOut(seed=seed, ensemble_rmse=rmse_px(ensemble, targets), best_single_rmse=rmse_px(single, targets),
                   flip_tta_ensemble_rmse=rmse_px(ensemble_flipped, targets) if flipped is not None else None)
