"""A Tune stopper that ends trials which are not learning: one sitting at the mean face's score (the
net predicts about the same face for every image) gains nothing from more epochs, and ASHA would only
cut it at its first rung, epochs later."""

from __future__ import annotations

from ray import tune


class StuckAtMeanFace(tune.Stopper):
    """Stops a trial once, from epoch `after` on, its last `window` validation scores all lie within
    `band` of the mean face's (as shares of it) and within `flat` of each other: at the mean face and
    not moving. A slow starter passing through the mean face's level on its way down moves more than
    `flat` and is spared."""

    def __init__(self, after: int = 4, window: int = 3, band: float = 0.1, flat: float = 0.02):
        self.after, self.window, self.band, self.flat = after, window, band, flat
        self._scores: dict[str, dict[int, float]] = {}  # trial -> epoch -> val RMSE / mean face RMSE

    def __call__(self, trial_id: str, result: dict) -> bool:
        if "val_rmse" not in result or "mean_face_rmse" not in result:  # a diverged trial's last result
            return False
        scores = self._scores.setdefault(trial_id, {})
        scores[result["epoch"]] = result["val_rmse"] / result["mean_face_rmse"]  # by epoch: a resumed trial replays some
        recent = [scores[e] for e in sorted(scores)[-self.window:]]
        return (result["epoch"] >= self.after and len(recent) == self.window
                and all(abs(share - 1) < self.band for share in recent) and max(recent) - min(recent) < self.flat)

    def stop_all(self) -> bool:
        return False
