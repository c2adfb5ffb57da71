"""Greedy forward selection with replacement under a size budget (Caruana et al. 2004, as in
auto-sklearn's and AutoGluon's weighted ensembles)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import UserError
from data.transforms import rmse_px


@dataclass(frozen=True)
class Selection:
    counts: np.ndarray  # (M,) how often each candidate was picked; weight = count / counts.sum()
    val_rmse: float  # of the weighted average, pixels
    size_bytes: int  # total of the distinct members' files

    @property
    def weights(self) -> np.ndarray:
        return self.counts / self.counts.sum()


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
