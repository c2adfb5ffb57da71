"""Every folder kptune writes carries a format version: an older one is read through its owner's
migration, a newer one is refused in one line. Older folders are the ones past commits wrote, checked in
under tests/formats/ (how: tests/formats/write_old_ensemble.py), or made by rewriting the files each
owner names, through the owner's own constants."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from common.errors import UserError
from ensemble.ensemble import Ensemble
from ensemble.folder import MANIFEST, VERSION, HeldOut, Manifest, Member, member_bytes, member_file, write_ensemble
from models import create_model
from search.results import SETTINGS, SearchFolder, _status
from search.results import VERSION as SEARCH_VERSION
from search.settings import SearchSettings
from training.checkpoint import FORMAT, TRAIN_STATE, Checkpoint
from training.config import TrainConfig

PAST = Path(__file__).with_name("formats")  # folders past commits wrote, with their answers


def _set_version(path, key: str | None, version: int | None) -> None:
    """Rewrite a JSON file as another version wrote it (key None: the whole file is the version record)."""
    if key is None:
        path.unlink() if version is None else path.write_text(json.dumps({"version": version}))
        return
    saved = json.loads(path.read_text())
    saved.pop(key, None)
    path.write_text(json.dumps(saved if version is None else {key: version, **saved}))


def test_a_checkpoint_from_before_versions_reads_with_no_gpu_random_state(tmp_path, write_checkpoint):
    checkpoint = write_checkpoint(tmp_path / "c")
    state = torch.load(checkpoint.folder / TRAIN_STATE, weights_only=True)
    del state["cuda_rng"]  # as version 1 wrote it
    torch.save(state, checkpoint.folder / TRAIN_STATE)
    _set_version(checkpoint.folder / FORMAT, None, None)
    old = Checkpoint(checkpoint.folder)
    assert old.version == 1 and len(old.train_state()["cuda_rng"]) == 0 and old.config.arch == "cnn_gap"


def test_a_checkpoint_of_a_newer_format_is_refused_in_one_line(tmp_path, write_checkpoint):
    checkpoint = write_checkpoint(tmp_path / "c")
    _set_version(checkpoint.folder / FORMAT, None, 99)
    with pytest.raises(UserError, match="format version 99, written by a newer kptune") as err:
        Checkpoint(checkpoint.folder).weights()
    assert "\n" not in str(err.value)


def _ensemble(folder, bias: float = 0.0):
    state = create_model("cnn_gap").state_dict()
    member = Member("m", "cnn_gap", member_file("m"), 1.0, 1.0, 2.0, TrainConfig(arch="cnn_gap", label_origin=0.0).to_dict(),
                    bias_px=[bias] * 30, flip_bias_px=[bias] * 30)
    manifest = Manifest([member], 2.0, 1.0, 50, "fp32", False, 0.0, "run", {}, device="cpu", heldout=HeldOut(0, 2.5, 2.6))
    return write_ensemble(folder, manifest, {"m": member_bytes(state)})


def test_an_ensemble_from_before_versions_reads_as_computed_on_the_cpu(tmp_path):
    folder = _ensemble(tmp_path / "e")
    _set_version(folder / MANIFEST, "format_version", None)
    saved = json.loads((folder / MANIFEST).read_text())
    del saved["device"], saved["heldout"]  # version 1 had neither
    (folder / MANIFEST).write_text(json.dumps(saved))
    ensemble = Ensemble(folder, device="cpu")
    assert ensemble.manifest.device == "cpu" and ensemble.predict(np.zeros((2, 96, 96), np.uint8)).shape == (2, 30)
    assert ensemble.manifest.heldout is None


def test_an_ensemble_keeps_its_held_out_score_through_the_manifest(tmp_path):
    assert Ensemble(_ensemble(tmp_path / "e"), device="cpu").manifest.heldout == HeldOut(seed=0, ensemble_rmse=2.5, best_single_rmse=2.6)


def test_an_ensemble_from_before_refits_reads_as_built_from_the_searched_weights(tmp_path):
    folder = _ensemble(tmp_path / "e")
    saved = json.loads((folder / MANIFEST).read_text())
    del saved["refit"]  # version 3 had no refit
    (folder / MANIFEST).write_text(json.dumps({**saved, "format_version": 3}))
    assert Ensemble(folder, device="cpu").manifest.refit is None


def test_an_ensemble_from_before_biases_predicts_as_its_members_answer(tmp_path):
    folder = _ensemble(tmp_path / "e", bias=1.0)
    images = np.zeros((2, 96, 96), np.uint8)
    with_bias = Ensemble(folder, device="cpu").predict(images)
    saved = json.loads((folder / MANIFEST).read_text())
    for member in saved["members"]:
        del member["bias_px"], member["flip_bias_px"]  # version 4 had no biases
    (folder / MANIFEST).write_text(json.dumps({**saved, "format_version": 4}))
    np.testing.assert_allclose(Ensemble(folder, device="cpu").predict(images), with_bias + 1.0, atol=1e-5)


@pytest.mark.parametrize("version", [4, 6])
def test_an_ensemble_folder_a_past_kptune_wrote_gives_the_answers_it_gave_then(version, tmp_path):
    """Version 4: no biases; version 6: a bias off every answer, no face layout."""
    folder = shutil.copytree(PAST / f"ensemble_v{version}", tmp_path / "e")  # reading takes the folder's lock: never in the checkout
    then = np.load(PAST / f"ensemble_v{version}_answers.npz")
    assert json.loads((folder / MANIFEST).read_text())["format_version"] == version
    ensemble = Ensemble(folder, device="cpu", amp="off")
    np.testing.assert_allclose(ensemble.predict(then["faces"]), then["plain"], atol=1e-4)
    np.testing.assert_allclose(ensemble.predict(then["faces"], tta=True), then["flip"], atol=1e-4)


def test_an_ensemble_of_a_newer_format_is_refused_in_one_line(tmp_path):
    folder = _ensemble(tmp_path / "e")
    _set_version(folder / MANIFEST, "format_version", VERSION + 1)
    with pytest.raises(UserError, match=f"is an ensemble folder of format version {VERSION + 1}, written by a newer kptune"):
        Ensemble(folder)


def _search(folder) -> SearchFolder:
    search = SearchFolder(folder)
    search.write_settings(SearchSettings(name="s", storage=str(folder.parent), space="space.yaml", trials=1, max_epochs=1, grace_period=1,
                                         reduction_factor=3, rung_cooldown=1.0, seed=0, cpus_per_trial=1, gpus_per_trial=0,
                                         max_concurrent=0, time_budget_s=0, ensemble_share=0.0, base={}))
    return search


@pytest.mark.parametrize("version, added", [(2, "rung_cooldown"), (3, "ensemble_share"), (5, "init")])
def test_a_search_from_before_a_setting_existed_resumes_as_it_ran_then(tmp_path, version, added):
    """rung_cooldown 0: ASHA judges the best score so far; ensemble_share 0: no ensemble members; init
    empty: every trial from random."""
    search = _search(tmp_path / "s")
    saved = json.loads((tmp_path / "s" / SETTINGS).read_text())
    del saved[added]
    (tmp_path / "s" / SETTINGS).write_text(json.dumps({**saved, "format_version": version}))
    assert search.version == version and not getattr(search.settings, added)


def test_a_search_from_before_versions_reads_its_divergence_from_the_error_text(tmp_path):
    search = _search(tmp_path / "s")
    _set_version(tmp_path / "s" / SETTINGS, "format_version", None)
    raised = SimpleNamespace(metrics={}, error="ray.exceptions.RayTaskError(TrainingDiverged): diverged in epoch 1")
    assert search.version == 1 and _status(raised, "ERROR", search.version) == "DIVERGED"
    assert _status(raised, "ERROR", 2) == "ERROR"  # version 2 records divergence as a field, never as a crash
    assert _status(SimpleNamespace(metrics={"diverged": True}, error=None), "TERMINATED", 2) == "DIVERGED"


def test_a_search_of_a_newer_format_is_refused_in_one_line(tmp_path):
    _search(tmp_path / "s")
    _set_version(tmp_path / "s" / SETTINGS, "format_version", SEARCH_VERSION + 1)
    with pytest.raises(UserError, match=f"is a search folder of format version {SEARCH_VERSION + 1}, written by a newer kptune"):
        SearchFolder(tmp_path / "s").trials()
