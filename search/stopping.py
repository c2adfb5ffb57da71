"""A Tune stopper that ends trials which are not learning: one sitting at the mean face's score (the
net predicts about the same face for every image) gains nothing from more epochs, and ASHA would only
cut it at its first rung, epochs later."""

from __future__ import annotations

from ray import tune


class StuckAtMeanFace(tune.Stopper):
    """Stops a trial once, from epoch `after` on and with its learning rate no longer rising, its last
    `window` validation scores all lie within `band` of the mean face's (as shares of it) and within
    `flat` of each other: at the mean face and not moving. A slow starter passing through the mean face's
    level on its way down moves more than `flat` and is spared; so is one still in its warm-up, where a net
    may sit at the mean face until its learning rate is high enough. On 1000 faces of faces15 and of MTFL
    the `resnet_m` start point sat at 1.04-1.06 of the mean face at epochs 6-8 of 72, its learning rate
    still rising to its peak, and was stopped there (bench.regime); trained on, the same trial left it:
    0.98 at epoch 10, 0.87 at 14, 0.65 at 22 (faces15)."""

    def __init__(self, after: int = 4, window: int = 3, band: float = 0.1, flat: float = 0.02):
        self.after, self.window, self.band, self.flat = after, window, band, flat
        self._scores: dict[str, dict[int, float]] = {}  # trial -> epoch -> val RMSE / mean face RMSE
        self._lrs: dict[str, dict[int, float]] = {}  # trial -> epoch -> learning rate at its end

    def __call__(self, trial_id: str, result: dict) -> bool:
        if "val_rmse" not in result or "mean_face_rmse" not in result:  # a diverged trial's last result
            return False
        epoch = result["epoch"]
        scores, lrs = self._scores.setdefault(trial_id, {}), self._lrs.setdefault(trial_id, {})
        scores[epoch] = result["val_rmse"] / result["mean_face_rmse"]  # by epoch: a resumed trial replays some
        lrs[epoch] = result.get("lr", 0.0)
        warming_up = lrs[epoch] > lrs.get(epoch - 1, lrs[epoch])
        recent = [scores[e] for e in sorted(scores)[-self.window:]]
        return (epoch >= self.after and not warming_up and len(recent) == self.window
                and all(abs(share - 1) < self.band for share in recent) and max(recent) - min(recent) < self.flat)

    def stop_all(self) -> bool:
        return False
