"""ensemble.refit: the ensemble's members trained again on train + val, shipped as an ensemble folder of
their own with the same members, weights and (searched weights') validation figures."""


import numpy as np
import pytest
import torch

from common.errors import UserError
from ensemble.ensemble import Ensemble
from ensemble.folder import Member, read_ensemble
from ensemble.refit import main, refit_config
from training.config import TrainConfig


def test_refit_without_a_built_ensemble_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    with pytest.raises(SystemExit):
        main(["--runs-dir", str(tmp_path), "--run", "s"])
    err = capsys.readouterr().err
    assert "no ensemble to refit: build one first" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s" / "ensemble_refit").exists()


def _member(kept_epoch) -> Member:
    config = TrainConfig(arch="cnn_small", epochs=72, schedule="onecycle", label_origin=0.0).to_dict()
    return Member("t1", "cnn_small", "members/t1.pt", 1.0, 1.0, 2.0, config, kept_epoch=kept_epoch)


def test_a_member_asha_cut_at_its_first_rung_is_refitted_to_that_epoch_of_its_schedule():
    config = refit_config(_member(kept_epoch=24))
    assert config.refit and config.stop_epoch == 24 and config.epochs == 72 and config.last_epoch == 24


def test_a_member_without_its_kept_epoch_is_refused_with_the_reason():
    with pytest.raises(UserError, match="before kptune recorded the epoch each member was kept at: build the ensemble again"):
        refit_config(_member(kept_epoch=None))


def test_a_refitted_member_loads_and_predicts_like_any_other(smoke_search, tiny_data, tmp_path, cli):
    from ensemble.refit import main
    from search.results import SearchFolder

    search = SearchFolder(smoke_search)
    run = cli(main, "--runs-dir", smoke_search.parent, "--run", "smoke", "--ensemble-dir", tmp_path / "refit", "--test", tiny_data[1],
              "--out", tmp_path / "sub.csv")
    assert run.code == 0, run.err

    (source, source_states), (refit, states) = read_ensemble(search.ensemble_folder), read_ensemble(tmp_path / "refit")
    assert [(m.name, m.arch, m.weight, m.val_rmse) for m in refit.members] == [(m.name, m.arch, m.weight, m.val_rmse) for m in source.members]
    assert refit.val_rmse == source.val_rmse and refit.heldout == source.heldout  # the selection's figures, kept
    split = TrainConfig.from_saved(source.members[0].config).load_split()
    assert refit.refit.train_faces == len(split.train) + len(split.val) and refit.refit.source == str(search.ensemble_folder)
    assert all(m.config["refit"] and not s.config["refit"] for m, s in zip(refit.members, source.members))
    assert all(m.config["stop_epoch"] == s.kept_epoch for m, s in zip(refit.members, source.members))
    assert all(any(not torch.equal(a[k], b[k]) for k in a) for a, b in zip(states, source_states))  # trained again
    predictions = Ensemble(tmp_path / "refit", device="cpu").predict(split.val.images, tta=True)
    assert predictions.shape == (len(split.val), 30) and np.isfinite(predictions).all()
    assert len((tmp_path / "sub.csv").read_text().splitlines()) == 13  # the submission: header and 12 faces
