"""Optimizers, schedules and losses by name: the learning rate follows each schedule step by step."""

import math

import pytest
import torch

from training.config import TrainConfig
from training.losses import LOSSES
from training.optim import make_optimizer, make_schedule

STEPS_PER_EPOCH, EPOCHS = 5, 4  # 20 steps
TOTAL = STEPS_PER_EPOCH * EPOCHS


def _lrs(**kw) -> list[float]:
    """The learning rate used at each of the run's steps."""
    config = TrainConfig(lr=0.1, epochs=EPOCHS, **kw)
    optimizer = make_optimizer([torch.nn.Parameter(torch.zeros(1))], config)
    schedule = make_schedule(optimizer, config, STEPS_PER_EPOCH)
    lrs = []
    for _ in range(TOTAL):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return lrs


def test_constant_keeps_the_learning_rate():
    assert _lrs(schedule="constant") == pytest.approx([0.1] * TOTAL)


def test_warmup_rises_linearly_from_a_25th_then_holds():
    lrs = _lrs(schedule="constant", warmup=0.25)  # 5 warm-up steps
    assert lrs[:6] == pytest.approx([0.1 * (1 / 25 + (1 - 1 / 25) * t / 5) for t in range(6)])
    assert lrs[5:] == pytest.approx([0.1] * (TOTAL - 5))


def test_cosine_follows_half_a_cosine_to_zero():
    assert _lrs(schedule="cosine") == pytest.approx([0.05 * (1 + math.cos(math.pi * t / TOTAL)) for t in range(TOTAL)], abs=1e-9)


def test_cosine_with_warmup_peaks_after_the_warmup():
    lrs = _lrs(schedule="cosine", warmup=0.25)
    assert lrs[0] == pytest.approx(0.1 / 25) and max(lrs) == pytest.approx(0.1) and lrs.index(max(lrs)) == 5
    assert lrs[5:] == sorted(lrs[5:], reverse=True)


def test_onecycle_rises_to_the_peak_at_its_share_then_anneals_far_below():
    lrs = _lrs(schedule="onecycle", warmup=0.3)
    peak = lrs.index(max(lrs))
    assert lrs[0] == pytest.approx(0.1 / 25) and max(lrs) == pytest.approx(0.1, rel=1e-3)
    assert peak == round(0.3 * TOTAL) - 1 and lrs[-1] < 0.1 / 1000
    assert lrs[:peak + 1] == sorted(lrs[:peak + 1]) and lrs[peak:] == sorted(lrs[peak:], reverse=True)


@pytest.mark.parametrize("name, kind", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)])
def test_optimizers_by_name(name, kind):
    optimizer = make_optimizer([torch.nn.Parameter(torch.zeros(1))], TrainConfig(optimizer=name, lr=0.5, weight_decay=0.01))
    assert type(optimizer) is kind and optimizer.param_groups[0]["lr"] == 0.5 and optimizer.param_groups[0]["weight_decay"] == 0.01


def test_unknown_schedule_is_an_error():
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainConfig.from_dict({"schedule": "step"})


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_ignores_missing_coordinates_and_is_zero_when_exact(name):
    target = torch.tensor([[0.5, float("nan")]])
    loss = LOSSES[name]
    assert loss(torch.tensor([[0.5, 100.0]]), target).item() == 0
    assert loss(torch.tensor([[0.0, 100.0]]), target).item() > 0


def test_mse_is_the_mean_square_over_labelled_coordinates():
    target = torch.tensor([[0.5, float("nan"), 0.0]])
    assert LOSSES["mse"](torch.tensor([[0.0, 100.0, 0.1]]), target).item() == pytest.approx((0.25 + 0.01) / 2)


def test_wing_is_logarithmic_for_small_errors_and_linear_for_large():
    wing, zero = LOSSES["wing"], torch.zeros(1, 1)
    one_px, two_px = (wing(torch.full((1, 1), px / 48), zero).item() for px in (1.0, 2.0))
    assert two_px < 2 * one_px  # log: concave below the 10 px width
    far = [wing(torch.full((1, 1), px / 48), zero).item() for px in (20.0, 30.0, 40.0)]
    assert far[2] - far[1] == pytest.approx(far[1] - far[0])  # linear beyond it


@pytest.mark.parametrize("total", [3, 4, 6, 10])
def test_a_one_cycle_run_of_a_few_steps_with_a_warm_up_runs_to_its_end(total):
    config = TrainConfig(schedule="onecycle", warmup=0.2, lr=1.0, epochs=total)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = make_schedule(optimizer, config, steps_per_epoch=1)
    used = []  # the learning rate of each of the run's steps
    for _ in range(total):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert max(used) == pytest.approx(1.0) and used[-1] < 0.01  # up to its peak, annealed to zero by its last step
