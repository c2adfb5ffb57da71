"""One sweep over the registry: every architecture builds, runs, and has the seed's size."""

import pytest
import torch

from models import create_model, keras_param_count, list_models

SEED_COUNTS = {"cnn": 19_505_502, "cnn_small": 9_618_206, "vgg16": 17_142_878, "vgg_opt": 7_268_670}


@pytest.mark.parametrize("name", list_models())
def test_model_outputs_thirty_finite_numbers(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 96, 96))
    assert out.shape == (2, 30)
    assert torch.isfinite(out).all()
    if name in SEED_COUNTS:
        assert keras_param_count(model) == SEED_COUNTS[name]


def test_every_backbone_has_a_gap_entry():
    names = set(list_models())
    assert {"cnn_gap", "vgg16_gap", "vgg_opt_gap"} <= names


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown architecture 'resnet'"):
        create_model("resnet")


@pytest.mark.parametrize("name", ["cnn", "vgg_opt", "vgg_opt_gap"])
def test_dropout_factor_scales_the_seed_rates_and_keeps_the_weights(name):
    rates = lambda model: [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]  # noqa: E731
    seed, none, half = create_model(name), create_model(name, dropout=0.0), create_model(name, dropout=0.5)
    assert max(rates(seed)) > 0 and set(rates(none)) == {0.0}
    assert rates(half) == pytest.approx([r / 2 for r in rates(seed)])
    assert none.state_dict().keys() == seed.state_dict().keys()  # weights load whatever the factor
