"""The search's last phase (search.members): the best finished recipes again, with new seeds."""

import datetime
import time

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from search.members import MEMBER, MemberPhase, member_fits, recipes
from search.space import load_space

DISTRIBUTIONS = {"arch": CategoricalDistribution(["resnet_s", "resnet_m"]), "lr": FloatDistribution(1e-4, 1e-2, log=True)}
NOON = datetime.datetime(2026, 12, 3, 12)


def _finished(arch: str, lr: float, score: float, minutes: float = 10, epochs: int = 36,
              state: TrialState = TrialState.COMPLETE) -> optuna.trial.FrozenTrial:
    """A trial that reported `epochs` epochs (as Tune reports them: training iterations from 1) in `minutes`."""
    trial = create_trial(state=state, value=score if state == TrialState.COMPLETE else None, params={"arch": arch, "lr": lr},
                         distributions=DISTRIBUTIONS, intermediate_values={epoch: 2.0 for epoch in range(1, epochs + 1)})
    trial.datetime_start, trial.datetime_complete = NOON, NOON + datetime.timedelta(minutes=minutes)
    return trial


def _study(*trials: optuna.trial.FrozenTrial) -> optuna.Study:
    study = optuna.create_study()
    for trial in trials:
        study.add_trial(trial)
    return study


def _phase(share=0.5, trials=4, time_budget_s=0.0, started=None) -> MemberPhase:
    phase = MemberPhase(share=share, trials=trials, time_budget_s=time_budget_s, max_epochs=36, seed=7)
    if started is not None:
        phase.started = started
    return phase


def test_recipes_are_the_best_of_each_family_within_the_margin_best_first():
    trials = [_finished("resnet_m", 2e-3, 1.60), _finished("resnet_m", 3e-3, 1.62), _finished("resnet_s", 4e-3, 1.65),
              _finished("resnet_s", 1e-3, 1.90), _finished("resnet_m", 1e-4, 0.0, state=TrialState.PRUNED)]
    assert [(t.params["arch"], t.value) for t in recipes(trials)] == [("resnet_m", 1.60), ("resnet_s", 1.65)]
    far = [_finished("resnet_m", 2e-3, 1.60), _finished("resnet_s", 4e-3, 1.80)]  # 12 % worse: not a member's recipe
    assert [t.params["arch"] for t in recipes(far)] == ["resnet_m"]


def test_no_member_is_queued_before_the_last_share_of_the_trials():
    study = _study(_finished("resnet_m", 2e-3, 1.60))
    assert _phase(share=0.5, trials=4)(study) is True
    assert not study.get_trials(states=(TrialState.WAITING,))


def test_in_the_last_share_the_recipes_take_turns_each_member_with_a_new_seed():
    study = _study(_finished("resnet_m", 2e-3, 1.60), _finished("resnet_s", 4e-3, 1.65))
    phase = _phase(share=0.5, trials=4)
    asked = []
    for _ in range(3):
        assert phase(study) is True
        trial = study.ask(DISTRIBUTIONS)  # as a search's sampler asks: the queued values come back
        asked.append((trial.params, trial.user_attrs[MEMBER]))
        study.tell(trial, 1.7)
    assert asked == [({"arch": "resnet_m", "lr": 2e-3}, {"seed": 8}),
                     ({"arch": "resnet_s", "lr": 4e-3}, {"seed": 9}),
                     ({"arch": "resnet_m", "lr": 2e-3}, {"seed": 10})]


def test_with_nothing_finished_the_last_phase_leaves_the_proposals_to_tpe():
    study = _study(_finished("resnet_m", 2e-3, 0.0, state=TrialState.PRUNED), _finished("resnet_s", 4e-3, 0.0, state=TrialState.PRUNED))
    assert _phase(share=0.5, trials=4)(study) is True
    assert not study.get_trials(states=(TrialState.WAITING,))


def test_with_a_time_budget_the_phase_begins_at_its_last_share_of_the_time():
    study = _study(_finished("resnet_m", 2e-3, 1.60, minutes=10))
    assert _phase(share=0.25, time_budget_s=3600, started=time.time() - 40 * 60)(study) is True  # 20 of 60 minutes left
    assert not study.get_trials(states=(TrialState.WAITING,))
    assert _phase(share=0.25, time_budget_s=3600, started=time.time() - 46 * 60)(study) is True  # 14 left: the phase
    assert study.get_trials(states=(TrialState.WAITING,))[0].user_attrs[MEMBER] == {"seed": 8}


def test_a_member_starts_while_a_third_of_its_schedule_fits_at_its_recipes_pace():
    recipe = _finished("resnet_m", 2e-3, 1.60, minutes=12, epochs=36)  # 20 s an epoch: 12 epochs and the margin, 5 minutes
    assert member_fits(recipe, 36, seconds_left=None)
    assert member_fits(recipe, 36, seconds_left=6 * 60)
    assert not member_fits(recipe, 36, seconds_left=4 * 60)


def test_a_member_is_paced_by_the_epochs_its_recipe_ran_not_by_the_whole_schedule():
    fitted = _finished("resnet_m", 2e-3, 1.60, minutes=12, epochs=12)  # a schedule fitted to a third: 60 s an epoch
    assert not member_fits(fitted, 36, seconds_left=13 * 60)  # the recipe's 12 minutes fit, 12 epochs of it do not
    assert member_fits(fitted, 36, seconds_left=16 * 60)


def test_when_no_member_fits_in_the_time_left_the_search_starts_no_more_trials():
    study = _study(_finished("resnet_m", 2e-3, 1.60, minutes=12))
    assert _phase(share=0.25, time_budget_s=3600, started=time.time() - 57 * 60)(study) is False


def test_a_members_seed_reaches_its_training_config(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("arch:\n  choice: [resnet_s, resnet_m]\nlr:\n  loguniform: [1.0e-4, 1.0e-2]\nflip: false\n")
    study = _study(_finished("resnet_m", 2e-3, 1.60))
    _phase(share=0.5, trials=2)(study)
    trial = study.ask()
    assert load_space(path).sample(trial) == {"flip": False, "seed": 8}
    assert trial.params == {"arch": "resnet_m", "lr": 2e-3}


@pytest.mark.parametrize("share", [-0.1, 1.0])
def test_the_cli_refuses_a_share_outside_zero_to_one(share, capsys):
    from search.run import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--ensemble-share", str(share)])
    assert "--ensemble-share" in capsys.readouterr().err


def test_a_resumed_search_counts_the_time_it_ran_not_the_time_it_lay_stopped(monkeypatch):
    """Saved 40 minutes into a one-hour search, resumed two hours later: 20 minutes of the budget are left,
    so a member still starts (Tune's own budget counts the same way)."""
    import pickle

    study = _study(_finished("resnet_m", 2e-3, 1.60, minutes=12))
    saved = pickle.dumps(_phase(share=0.25, time_budget_s=3600, started=time.time() - 46 * 60))
    later = time.time() + 2 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    resumed = pickle.loads(saved)
    assert resumed.elapsed_s() == pytest.approx(46 * 60, abs=5)
    assert resumed(study) is True
    assert study.get_trials(states=(TrialState.WAITING,))[0].user_attrs[MEMBER] == {"seed": 8}
