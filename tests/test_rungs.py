"""Rung scores (search.trainable): a cooldown branch scores what the run would reach if its schedule
ended now, and leaves the run itself exactly as it would have been without it."""

import torch

from tests.test_checkpoint import STATEFUL, _trainer


def test_cooldown_branches_leave_the_run_bit_for_bit_unchanged(tiny_data):
    plain = _trainer(tiny_data, **STATEFUL)
    plain.fit()

    branched = _trainer(tiny_data, **STATEFUL)
    scores = []
    branched.fit(on_epoch=lambda epoch: scores.append(branched.cooldown_score(epochs=0.5)))

    assert len(scores) == STATEFUL["epochs"] and all(0 < s < 96 for s in scores)
    assert [r.val_rmse for r in branched.history] == [r.val_rmse for r in plain.history]
    assert [r.lr for r in branched.history] == [r.lr for r in plain.history]
    for name, value in plain.model.state_dict().items():
        torch.testing.assert_close(branched.model.state_dict()[name], value, rtol=0, atol=0)
    for name, value in plain.best_state.items():
        torch.testing.assert_close(branched.best_state[name], value, rtol=0, atol=0)


def test_a_cooldown_branch_trains_its_own_copy(tiny_data):
    trainer = _trainer(tiny_data, **{**STATEFUL, "epochs": 2})
    trainer.fit()
    before = trainer.predict(trainer.val_images)
    score = trainer.cooldown_score(epochs=1)
    # the branch trained: its score is not the unchanged weights' score; the run's weights are unchanged
    assert score != trainer.history[-1].val_rmse
    assert (trainer.predict(trainer.val_images) == before).all()
