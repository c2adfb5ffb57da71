
import pytest
import torch

from data.transforms import rmse_px
from training.checkpoint import Checkpoint
from training.config import TrainConfig
from training.trainer import Trainer, TrainingDiverged, prepare_process


def _config(tiny_data, **kw) -> TrainConfig:
    return TrainConfig(**{"train": str(tiny_data[0]), "arch": "cnn_gap", "batch_size": 16, "epochs": 2, **kw})


def test_same_seed_same_result_on_cpu(tiny_data):
    runs = []
    for _ in range(2):
        config = _config(tiny_data, seed=7, device="cpu")
        prepare_process(config)
        trainer = Trainer(config, config.load_split())
        runs.append([r.val_rmse for r in trainer.fit()])
    assert runs[0] == runs[1]


def test_early_stopping_ends_patience_epochs_after_the_best_and_restores_it(tiny_data):
    config = _config(tiny_data, epochs=6, patience=1, lr=2.0, optimizer="sgd")  # too hot: it soon stops improving
    prepare_process(config)
    trainer = Trainer(config, config.load_split())
    history = trainer.fit()
    best = min(history, key=lambda r: r.val_rmse)
    assert len(history) < config.epochs, "this configuration should stop early"
    assert len(history) == best.epoch + config.patience
    assert rmse_px(trainer.predict(trainer.val_images), trainer.split.val.keypoints) == pytest.approx(best.val_rmse, rel=1e-5)


def test_a_refit_trains_on_the_validation_faces_too_through_every_epoch_and_keeps_the_last(tiny_data):
    config = _config(tiny_data, epochs=6, patience=1, lr=2.0, optimizer="sgd", refit=True)  # the early-stopping run above, refitted
    prepare_process(config)
    split = config.load_split()
    trainer = Trainer(config, split)
    history = trainer.fit()
    assert len(trainer.train_images) == len(split.train) + len(split.val)
    assert len(history) == config.epochs  # no early stopping: its validation faces cannot judge it
    assert rmse_px(trainer.predict(trainer.val_images), split.val.keypoints) == pytest.approx(history[-1].val_rmse, rel=1e-5)


def test_a_stop_epoch_ends_the_run_there_on_the_schedule_that_spans_every_epoch(tiny_data):
    """What ensemble.refit needs of a member ASHA cut at a rung: the same run, ended at that epoch."""
    runs = {}
    for stop in (0, 2):
        config = _config(tiny_data, epochs=6, schedule="onecycle", seed=3, device="cpu", stop_epoch=stop)
        prepare_process(config)
        runs[stop] = Trainer(config, config.load_split()).fit()
    assert len(runs[2]) == 2 and len(runs[0]) == 6
    assert [(r.lr, r.val_rmse) for r in runs[2]] == [(r.lr, r.val_rmse) for r in runs[0][:2]]  # mid-schedule, bit for bit


def test_learning_reduces_validation_error(tiny_data):
    config = _config(tiny_data, epochs=4, lr=3e-3)
    prepare_process(config)
    history = Trainer(config, config.load_split()).fit()
    assert min(r.val_rmse for r in history[1:]) < history[0].val_rmse


def test_unknown_config_key_is_an_error():
    with pytest.raises(ValueError, match="unknown config key"):
        TrainConfig.from_dict({"learning_rate": 0.1})


def test_config_values_are_coerced_and_checked():
    assert TrainConfig.from_dict({"lr": "0.01", "flip": "false"}) == TrainConfig(lr=0.01, flip=False)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig.from_dict({"optimizer": "rmsprop"})


def test_train_cli_writes_a_checkpoint_folder_and_pictures(tiny_data, tmp_path, cli):
    from training.train import main

    run = cli(main, "--arch", "cnn_gap", "--train", tiny_data[0], "--epochs", "2", "--batch-size", "16", "--optimizer", "adamw",
              "--schedule", "onecycle", "--ema", "0.5", "--aug", "1", "--loss", "wing", "--grad-clip", "1", "--out", tmp_path / "ckpt")
    assert run.code == 0, run.err
    assert "epoch   2/2" in run.out and "val RMSE" in run.out
    assert Checkpoint(tmp_path / "ckpt").is_complete()
    assert (tmp_path / "ckpt/curves.png").stat().st_size and (tmp_path / "ckpt/val_overlay.png").stat().st_size


def test_a_learning_rate_of_ten_diverges_at_once(tiny_data):
    trainer = Trainer(_config(tiny_data, lr=10.0, epochs=5), TrainConfig(train=str(tiny_data[0])).load_split())
    with pytest.raises(TrainingDiverged, match="diverged in epoch 1"):
        trainer.fit()


def test_train_cli_rejects_an_unknown_optimizer(tiny_data, cli):
    from training.train import main

    run = cli(main, "--optimizer", "rmsprop", "--train", tiny_data[0])
    assert run.code == 2 and "--optimizer: invalid choice: 'rmsprop'" in run.err


def test_building_a_trainer_seeds_nothing_and_sets_no_threads(tiny_data):
    seed, threads = torch.initial_seed(), torch.get_num_threads()
    Trainer(_config(tiny_data, seed=seed + 1, threads=threads + 1), TrainConfig(train=str(tiny_data[0])).load_split())
    assert torch.initial_seed() == seed and torch.get_num_threads() == threads


def test_an_unknown_architecture_is_one_line_before_any_data_is_read(tmp_path, cli):
    from training.train import main

    run = cli(main, "--arch", "resnet_xl", "--train", tmp_path / "nowhere.csv")
    assert run.code == 2 and "unknown architecture 'resnet_xl'" in run.err.strip().splitlines()[-1]
    assert "nowhere.csv" not in run.err  # the data was never read


def test_a_label_origin_is_a_number_or_auto():
    assert TrainConfig.from_dict({"label_origin": "1"}).label_origin == 1.0
    assert TrainConfig.from_dict({"label_origin": "auto"}).label_origin == "auto"
    with pytest.raises(ValueError, match="label_origin must be a number of pixels or auto"):
        TrainConfig.from_dict({"label_origin": "left"})


def test_augmentation_ranges_come_by_name_over_the_defaults_and_old_fields_migrate():
    config = TrainConfig.from_dict({"augment": "rotate=5, noise=0"})
    assert config.augment["rotate"] == 5.0 and config.augment["noise"] == 0.0 and config.augment["shift"] == 8.0
    with pytest.raises(ValueError, match="augment takes ranges"):
        TrainConfig.from_dict({"augment": {"twirl": 1.0}})
    saved = {k: v for k, v in TrainConfig().to_dict().items() if k != "augment"}
    assert TrainConfig.from_saved({**saved, "aug_rotate": 7.0}).augment["rotate"] == 7.0  # saved before `augment` existed


@pytest.mark.slow  # inductor compiles the net: about a minute
def test_a_compiled_training_step_agrees_with_the_eager_one_within_bf16_rounding(tiny_data):
    """Same seed, same batch: the loss and the weights after one step agree to bf16's 8 mantissa bits."""
    steps = []
    for compiled in (False, True):
        config = _config(tiny_data, seed=3, device="cpu", dropout=0.0, amp="bf16", compile=compiled)
        prepare_process(config)
        trainer = Trainer(config, config.load_split())
        loss = trainer.train_step(torch.arange(16))
        steps.append((loss.item(), trainer.predict(trainer.val_images)))
    (eager_loss, eager_prediction), (compiled_loss, compiled_prediction) = steps
    assert compiled_loss == pytest.approx(eager_loss, rel=2 ** -7)
    assert abs(compiled_prediction - eager_prediction).max() < 0.02  # px (measured: 0.001)


def test_training_a_refit_prints_no_validation_score_for_faces_it_trained_on(tiny_data, tmp_path, capsys):
    from training.train import main

    main(["--train", str(tiny_data[0]), "--arch", "cnn_small", "--epochs", "1", "--batch-size", "16", "--refit", "true",
          "--label-origin", "0", "--out", str(tmp_path / "refit")])
    out = capsys.readouterr().out
    assert "val RMSE" not in out and "no validation score (it trained on those faces)" in out
    assert Checkpoint(tmp_path / "refit").config.refit


def test_training_starts_from_the_cpu_spaces_first_start_point_as_the_search_would():
    from configs import CPU_SPACE
    from search.space import load_space
    from training.train import recipe

    space = load_space(CPU_SPACE)
    expected = {**{p.name: p.values[0] for p in space.params if p.kind == "fixed" and not p.when}, **space.start[0]}
    assert {name: getattr(recipe(), name) for name in expected} == expected and recipe().epochs == 72


@pytest.mark.parametrize(("argv", "flip"), [([], True), (["--no-flip"], False), (["--flip", "false"], False), (["--flip"], True)])
def test_boolean_flags_are_x_and_no_x_and_still_take_true_or_false(argv, flip):
    import argparse

    from training.train import add_config_flags, config_from_args, recipe

    parser = argparse.ArgumentParser()
    add_config_flags(parser, recipe())
    assert config_from_args(parser.parse_args(["--train", "t.csv", *argv]), recipe()).flip is flip


def test_a_trial_trained_again_from_its_saved_config_scores_what_it_scored(smoke_search, tmp_path, cli):
    from search.results import SearchFolder
    from training.train import main

    best = min(SearchFolder(smoke_search).trials(), key=lambda t: t.best_val_rmse)
    run = cli(main, "--from-trial", "smoke", "1", "--runs-dir", smoke_search.parent, "--threads", "1", "--checkpoint", tmp_path / "again")
    assert run.code == 0, run.err
    assert f"trial {best.id} of smoke" in run.out
    assert Checkpoint(tmp_path / "again").val.rmse == best.checkpoint.val.rmse  # same seed, epochs and CPU: the same score
