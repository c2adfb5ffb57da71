"""search.stopping: a trial sitting at the mean face's score ends; one that is learning goes on."""

from search.stopping import StuckAtMeanFace

MEAN_FACE = 4.16  # px, as on faces15's validation faces


def _feed(stopper: StuckAtMeanFace, scores: list[float], trial: str = "t", lrs: list[float] | None = None) -> list[bool]:
    """Decisions epoch by epoch; the learning rate constant unless `lrs` says."""
    lrs = lrs or [1e-3] * len(scores)
    return [stopper(trial, {"epoch": e, "val_rmse": s, "mean_face_rmse": MEAN_FACE, "lr": lr})
            for e, (s, lr) in enumerate(zip(scores, lrs), start=1)]


def test_a_trial_flat_at_the_mean_face_ends_at_the_first_epoch_it_may():
    decisions = _feed(StuckAtMeanFace(after=4, window=3), [4.2, 4.17, 4.16, 4.18, 4.16])
    assert decisions == [False, False, False, True, True]  # flat from epoch 1, judged from epoch 4


def test_a_slow_starter_passing_the_mean_face_on_its_way_down_goes_on():
    # faces15, resnet_s_hm, batch 64, wing loss (bench/results/rungs.json, run 0): ended at 2.99 px
    curve = [18.51, 18.17, 14.22, 7.84, 5.23, 4.9, 4.6, 4.39, 4.17, 3.98, 3.78, 3.64, 3.52]
    assert not any(_feed(StuckAtMeanFace(), curve))


def test_a_trial_at_the_mean_face_in_its_warm_up_goes_on_until_its_learning_rate_stops_rising():
    # one-cycle's rising phase, then its peak and its fall: judged only from the peak on
    lrs = [1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4, 6e-4, 5e-4]
    assert _feed(StuckAtMeanFace(after=4, window=3), [4.2, 4.17, 4.16, 4.18, 4.16, 4.17, 4.16, 4.17], lrs=lrs) == [False] * 6 + [True, True]


def test_a_trial_that_learned_is_never_stopped_for_being_flat():
    assert not any(_feed(StuckAtMeanFace(), [5.0, 3.0, 2.0, 1.81, 1.80, 1.80, 1.80]))


def test_a_resumed_trial_replaying_epochs_is_judged_on_each_epoch_once():
    stopper = StuckAtMeanFace(after=4, window=3)
    _feed(stopper, [9.0, 6.0, 4.9])
    # resumed from its epoch-2 checkpoint: epochs 3 and on again, now sitting at the mean face
    assert [stopper("t", {"epoch": e, "val_rmse": s, "mean_face_rmse": MEAN_FACE, "lr": 1e-3}) for e, s in [(3, 4.17), (4, 4.16)]] == [False, False]
    assert stopper("t", {"epoch": 5, "val_rmse": 4.16, "mean_face_rmse": MEAN_FACE, "lr": 1e-3})


def test_trials_are_judged_apart_and_a_diverged_result_is_ignored():
    stopper = StuckAtMeanFace(after=3, window=3)
    _feed(stopper, [4.16, 4.16], trial="a")
    assert not stopper("b", {"epoch": 3, "val_rmse": 4.16, "mean_face_rmse": MEAN_FACE, "lr": 1e-3})
    assert not stopper("a", {"epoch": 3, "best_val_rmse": float("nan"), "diverged": True})
