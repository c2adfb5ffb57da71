"""The checkpoint type: every model round-trips, EMA weights are the kept ones, and a run interrupted
and resumed from its checkpoint ends exactly as an uninterrupted one."""

import numpy as np
import pytest
import torch

from models import list_models
from training.checkpoint import Checkpoint, ValPredictions, build_model
from training.config import TrainConfig
from training.trainer import Trainer, prepare_process

NO_VAL = ValPredictions(np.zeros(1), np.zeros((1, 30)), np.zeros((1, 30)))


def _trainer(tiny_data, **kw) -> Trainer:
    config = TrainConfig.from_dict({"train": str(tiny_data[0]), **kw})
    prepare_process(config)
    return Trainer(config, config.load_split())


@pytest.mark.parametrize("arch", list_models())
def test_every_registered_model_round_trips_through_the_checkpoint(arch, tmp_path):
    config = TrainConfig(arch=arch, dropout=0.5)
    original = build_model(config).eval()
    checkpoint = Checkpoint.write(tmp_path / arch, weights=original.state_dict(), config=config, val=NO_VAL, history=[], train_state={})
    assert checkpoint.is_complete() and checkpoint.config == config
    images = torch.rand(2, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(checkpoint.build_model()(images), original(images))


def test_checkpoint_holds_config_history_and_val_predictions_of_the_kept_weights(tiny_data, tmp_path):
    trainer = _trainer(tiny_data, arch="cnn_gap", batch_size=16, epochs=2)
    trainer.fit()
    checkpoint = trainer.save(tmp_path / "ckpt")
    assert checkpoint.config == trainer.config
    assert [r.epoch for r in checkpoint.history()] == [1, 2]
    np.testing.assert_array_equal(checkpoint.val.ids, trainer.split.val.ids)
    assert checkpoint.val.rmse == pytest.approx(trainer.best_rmse)
    model = checkpoint.build_model()
    np.testing.assert_allclose(trainer.predict(trainer.val_images), checkpoint.val.predictions, atol=1e-4)
    assert set(model.state_dict()) == set(trainer.model.state_dict())


def test_with_ema_the_kept_weights_are_the_average_not_the_trained_ones(tiny_data, tmp_path):
    trainer = _trainer(tiny_data, arch="cnn_gap", batch_size=16, epochs=2, ema=1.0)
    trainer.fit()
    checkpoint = trainer.save(tmp_path / "ckpt")
    kept, trained = checkpoint.weights(), checkpoint.train_state()["model"]
    average = trainer.ema.module.state_dict()
    for name in kept:
        torch.testing.assert_close(kept[name], average[name].cpu())
    assert any(not torch.equal(kept[name], trained[name]) for name in kept if kept[name].is_floating_point())


def test_interrupted_and_resumed_run_ends_with_the_same_weights(stateful_trainer, tmp_path):
    straight = stateful_trainer()
    straight.fit()

    class Interrupt(Exception):
        pass

    def stop_after_first_epoch(epoch):
        interrupted.save(tmp_path / "ckpt")
        raise Interrupt

    interrupted = stateful_trainer()
    with pytest.raises(Interrupt):
        interrupted.fit(on_epoch=stop_after_first_epoch)
    resumed = stateful_trainer()  # a fresh process would start just like this
    resumed.restore(Checkpoint(tmp_path / "ckpt"))
    resumed.fit()

    assert [r.val_rmse for r in resumed.history] == [r.val_rmse for r in straight.history]
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, rtol=0, atol=0)
    for name, value in straight.best_state.items():
        torch.testing.assert_close(resumed.best_state[name], value, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_the_gpus_random_state_round_trips_through_the_checkpoint(tiny_data, tmp_path):
    trainer = _trainer(tiny_data, arch="cnn_gap", batch_size=16, epochs=1, device="cuda")
    trainer.fit()
    checkpoint = trainer.save(tmp_path / "ckpt")
    drawn = torch.rand(8, device="cuda")  # what dropout would draw next
    torch.rand(100, device="cuda")
    trainer.restore(checkpoint)
    torch.testing.assert_close(torch.rand(8, device="cuda"), drawn, rtol=0, atol=0)
