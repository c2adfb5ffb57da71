"""Search spaces: checked before anything starts; conditional parameters only where they belong."""

import optuna
import pytest

from configs import CPU_SPACE, DEFAULT_SPACE, DEMO_SPACE, SEED_SPACE, SMOKE_SPACE
from models import list_models
from search.space import load_space


def _write(tmp_path, text: str):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", [DEFAULT_SPACE, CPU_SPACE, SEED_SPACE, DEMO_SPACE, SMOKE_SPACE])
def test_shipped_spaces_load(path):
    assert load_space(path).params


def test_the_shipped_spaces_together_offer_every_registered_architecture():
    offered = {arch for path in (DEFAULT_SPACE, CPU_SPACE, SEED_SPACE) for arch in load_space(path).architectures}
    assert offered == set(list_models())


def test_cpu_space_offers_only_nets_under_five_mb():
    from models import create_model, saved_size_bytes

    assert all(saved_size_bytes(create_model(arch)) < 5e6 for arch in load_space(CPU_SPACE).architectures)


def test_momentum_is_sampled_only_with_sgd():
    space = load_space(SEED_SPACE)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(30):
        trial = study.ask()
        space.sample(trial)
        assert ("momentum" in trial.params) == (trial.params["optimizer"] == "sgd")
        study.tell(trial, 1.0)


def test_unknown_architecture_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown architecture 'resnet50'"):
        load_space(_write(tmp_path, "arch:\n  choice: [cnn, resnet50]\n"))


def test_unknown_key_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="unknown key 'learning_rate'"):
        load_space(_write(tmp_path, "learning_rate:\n  loguniform: [1.0e-4, 1.0e-2]\n"))


def test_data_and_resources_are_not_searchable(tmp_path):
    with pytest.raises(ValueError, match="'val_fraction' is set by the search"):
        load_space(_write(tmp_path, "val_fraction:\n  uniform: [0.1, 0.3]\n"))


@pytest.mark.parametrize("key", ["refit", "stop_epoch"])
def test_a_space_cannot_make_trials_train_on_the_faces_that_score_them(tmp_path, key):
    with pytest.raises(ValueError, match=f"'{key}' is ensemble.refit's"):
        load_space(_write(tmp_path, f"{key}: {'true' if key == 'refit' else 3}\n"))


def test_bad_range_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="low must be below high"):
        load_space(_write(tmp_path, "lr:\n  loguniform: [1e-2, 1e-4]\n"))


def test_fixed_values_are_returned_for_every_trial(tmp_path):
    space = load_space(_write(tmp_path, "flip: false\nlr:\n  uniform: [0.001, 0.01]\n"))
    assert space.sample(optuna.create_study().ask()) == {"flip": False}


def test_cli_rejects_a_bad_space_before_starting(tmp_path, cli):
    from search.run import main

    path = _write(tmp_path, "arch:\n  choice: [nope]\n")
    run = cli(main, "--smoke", "--space", path, "--storage", tmp_path)
    assert run.code == 1
    assert len(run.err.strip().splitlines()) == 1 and "unknown architecture 'nope'" in run.err
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no search folder began


def test_a_search_proposes_its_start_points_first_in_order_then_samples(tmp_path):
    from search.experiment import make_searcher
    from search.run import parse_args, settings_from_args

    path = _write(tmp_path, "start:\n  - {arch: cnn_small, lr: 0.002}\n  - {arch: cnn, lr: 0.0003}\n"
                            "arch:\n  choice: [cnn, cnn_small]\nlr:\n  loguniform: [1.0e-4, 1.0e-2]\n")
    settings = settings_from_args(parse_args(["--train", str(tmp_path / "t.csv"), "--space", str(path), "--storage", str(tmp_path)]))
    (tmp_path / settings.name).mkdir()
    searcher = make_searcher(settings, load_space(path))
    proposed = [searcher.suggest(f"t{i}") for i in range(3)]
    assert [(c["arch"], c["lr"]) for c in proposed[:2]] == [("cnn_small", 0.002), ("cnn", 0.0003)]
    assert proposed[2]["arch"] in ("cnn", "cnn_small") and 1e-4 <= proposed[2]["lr"] <= 1e-2


def test_start_point_outside_the_space_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="start: lr=0.5 is outside loguniform"):
        load_space(_write(tmp_path, "start:\n  - {lr: 0.5}\nlr:\n  loguniform: [1.0e-4, 1.0e-2]\n"))


def test_the_gpu_space_covers_the_briefs_families_with_their_optimizers_and_patience():
    space = load_space(DEFAULT_SPACE)
    families = {"cnn", "cnn_gap", "vgg16", "vgg16_gap", "vgg_opt", "vgg_opt_gap", "resnet_m", "resnet_m_hm"}
    assert families <= set(space.architectures)
    searched = {p.name: p for p in space.params if p.kind != "fixed"}
    assert set(searched["optimizer"].values) == {"adam", "adamw", "sgd"} and {"schedule", "batch_size", "lr"} <= set(searched)
    assert searched["patience"].when == {"schedule": "constant"}


def test_a_conditional_parameter_takes_its_otherwise_value_when_its_condition_fails(tmp_path):
    space = load_space(_write(tmp_path, "schedule:\n  choice: [onecycle]\npatience:\n  choice: [5, 10]\n  when: {schedule: constant}\n  otherwise: 1000\n"))
    assert space.sample(optuna.create_study().ask()) == {"patience": 1000}
