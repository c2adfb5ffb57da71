"""Rung scores (search.trainable): a cooldown branch scores what the run would reach if its schedule
ended now, and leaves the run itself exactly as it would have been without it."""

import torch


def test_cooldown_branches_leave_the_run_bit_for_bit_unchanged(stateful_trainer):
    plain = stateful_trainer()
    plain.fit()

    branched = stateful_trainer()
    scores = []
    branched.fit(on_epoch=lambda epoch: scores.append(branched.cooldown_score(epochs=0.5)))

    assert len(scores) == plain.config.epochs and all(0 < s < 96 for s in scores)
    assert [r.val_rmse for r in branched.history] == [r.val_rmse for r in plain.history]
    assert [r.lr for r in branched.history] == [r.lr for r in plain.history]
    for name, value in plain.model.state_dict().items():
        torch.testing.assert_close(branched.model.state_dict()[name], value, rtol=0, atol=0)
    for name, value in plain.best_state.items():
        torch.testing.assert_close(branched.best_state[name], value, rtol=0, atol=0)


def test_a_cooldown_branch_trains_its_own_copy(stateful_trainer):
    trainer = stateful_trainer(epochs=2)
    trainer.fit()
    before = trainer.predict(trainer.val_images)
    score = trainer.cooldown_score(epochs=1)
    # the run's weights are unchanged, and a second branch from them (random numbers restored too) trains
    # to the same score; the branch trained: its score is not the unchanged weights' score
    assert (trainer.predict(trainer.val_images) == before).all()
    assert trainer.cooldown_score(epochs=1) == score and score != trainer.history[-1].val_rmse
