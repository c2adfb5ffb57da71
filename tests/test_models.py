"""One sweep over the registry: every architecture builds, runs, trains, and has its listed size."""

import pytest
import torch

from data.transforms import normalise_keypoints
from models import create_model, keras_param_count, list_models, saved_size_bytes
from models.resnet import SoftArgmax
from training.losses import LOSSES

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


@pytest.mark.parametrize("name", list_models())
def test_model_takes_a_training_step_without_nan(name):
    torch.manual_seed(0)
    model = create_model(name, dropout=0.0).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = LOSSES["mse"](model(torch.rand(4, 1, 96, 96)), normalise_keypoints(torch.full((4, 30), 40.0)))
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and all(torch.isfinite(p).all() for p in model.parameters())


# MB as saved in float32, as `python -m models` lists them: the small residual nets leave room for many
# members in a 50 MB ensemble.
RESNET_MB = {"resnet_s": 1.3, "resnet_s_hm": 1.3, "resnet_m": 4.4, "resnet_m_hm": 4.5, "resnet_l": 25.2, "resnet_l_hm": 25.5}


@pytest.mark.parametrize("name", RESNET_MB)
def test_residual_nets_have_their_listed_size(name):
    assert saved_size_bytes(create_model(name)) / 1e6 == pytest.approx(RESNET_MB[name], abs=0.05)


@pytest.mark.parametrize("name", ["resnet_s", "resnet_s_hm", "resnet_m", "resnet_m_hm"])
def test_small_residual_nets_fit_ten_times_into_fifty_mb(name):
    assert saved_size_bytes(create_model(name)) < 5e6


def test_soft_argmax_returns_the_peak_cell_centre_in_normalised_coordinates():
    head = SoftArgmax(channels=1, size=12)
    torch.nn.init.ones_(head.logits.weight)
    torch.nn.init.zeros_(head.logits.bias)
    features = torch.full((1, 1, 12, 12), -1e4)
    features[0, 0, 3, 9] = 0.0  # row 3, column 9: centre (9.5 * 8 - 0.5, 3.5 * 8 - 0.5) = (75.5, 27.5) px
    out = head(features)
    assert out.shape == (1, 30)
    torch.testing.assert_close(out[0, :2], normalise_keypoints(torch.tensor([75.5, 27.5])))


@pytest.mark.parametrize("backbone", ["cnn", "vgg_opt"])
def test_a_backbones_gap_variant_pools_globally_where_it_had_a_dense_head(backbone):
    """The report's wish: the same convolutions, a global-average-pooling head in place of the flatten and
    dense layers, at a fraction of the weights."""
    gap, dense = create_model(f"{backbone}_gap"), create_model(backbone)
    pools = lambda model: [m for m in model.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d)]  # noqa: E731
    assert len(pools(gap)) == 1 and not pools(dense)
    weights = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    assert weights(gap) < 0.7 * weights(dense)


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown architecture 'resnet50'"):
        create_model("resnet50")


@pytest.mark.parametrize("name", ["cnn", "vgg_opt", "vgg_opt_gap"])
def test_dropout_factor_scales_the_seed_rates_and_keeps_the_weights(name):
    rates = lambda model: [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]  # noqa: E731
    seed, none, half = create_model(name), create_model(name, dropout=0.0), create_model(name, dropout=0.5)
    assert max(rates(seed)) > 0 and set(rates(none)) == {0.0}
    assert rates(half) == pytest.approx([r / 2 for r in rates(seed)])
    assert none.state_dict().keys() == seed.state_dict().keys()  # weights load whatever the factor
