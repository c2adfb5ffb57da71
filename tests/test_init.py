"""A net started from another run's weights (`init`): every tensor whose name and shape match loads,
nothing else does; a head for another keypoint set keeps its random start."""

import pytest
import torch

from common.errors import UserError
from models import cast_floating, create_model
from training.checkpoint import Checkpoint, start_from
from training.config import TrainConfig


def _marked(arch: str) -> dict[str, torch.Tensor]:
    """arch's tensors, each filled with a value of its own (its index + 1), so that where one lands shows."""
    return {name: torch.full_like(value, i + 1) for i, (name, value) in enumerate(create_model(arch).state_dict().items())}


def test_a_net_of_the_same_family_takes_the_shared_backbone_and_keeps_its_own_head_random(tmp_path, write_checkpoint):
    source = _marked("resnet_m")
    checkpoint = write_checkpoint(tmp_path / "c", "resnet_m", source)
    torch.manual_seed(0)
    fresh = create_model("resnet_m_hm").state_dict()
    torch.manual_seed(0)
    model = create_model("resnet_m_hm")
    random = start_from(model, str(checkpoint.folder))
    for name, value in model.state_dict().items():
        shared = name in source and source[name].shape == value.shape
        torch.testing.assert_close(value, source[name] if shared else fresh[name], rtol=0, atol=0, msg=name)
        assert (name in random) == (not shared), name
    assert random and all(name.startswith("head.") for name in random)  # the heatmap head: the body is shared


def test_a_head_for_another_keypoint_set_keeps_its_random_start_and_the_body_loads(tmp_path, write_checkpoint):
    """A net trained on five keypoints (10 outputs) starts the body of a 15-keypoint one."""
    source = _marked("cnn_gap")
    source["head.3.weight"], source["head.3.bias"] = source["head.3.weight"][:10], source["head.3.bias"][:10]
    model = create_model("cnn_gap")
    head = {name: model.state_dict()[name].clone() for name in ("head.3.weight", "head.3.bias")}
    assert start_from(model, str(write_checkpoint(tmp_path / "five", "cnn_gap", source).folder)) == ["head.3.weight", "head.3.bias"]
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, head.get(name, source[name]), rtol=0, atol=0, msg=name)


def test_init_from_a_folder_that_is_not_a_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="init: neither a weights file nor a complete checkpoint folder"):
        start_from(create_model("cnn_gap"), str(tmp_path))


def test_a_trainer_with_init_starts_where_the_checkpoint_ended(tiny_data, stateful_trainer, tmp_path):
    """Its first epoch already scores far better than a random start's, and the same seed gives the same run."""
    trained = stateful_trainer(epochs=3, lr=3e-3)
    trained.fit()
    trained.save(tmp_path / "pretrained")
    scratch = stateful_trainer(epochs=1, lr=3e-3, schedule="constant")
    started = stateful_trainer(epochs=1, lr=3e-3, schedule="constant", init=str(tmp_path / "pretrained"))
    assert started.fresh == [] and len(scratch.fresh) == len(scratch.model.state_dict())
    first = {name: t.fit()[0].val_rmse for name, t in (("scratch", scratch), ("started", started))}
    assert first["started"] < 0.8 * first["scratch"], first


def test_a_search_with_init_starts_every_trial_from_the_checkpoint(ray_cluster, tmp_path, cli):
    """A net pretrained on 400 synthetic faces of other people scores s on the smoke search's validation
    faces, far under the mean face; a trial started from it at a learning rate too small to move it
    scores about s after its first epoch (its batch-norm statistics move a little)."""
    from data.synthetic import demo_dataset
    from data.transforms import rmse_px
    from report.page import write_report
    from search.results import SearchFolder
    from search.run import main as search
    from training.trainer import Trainer, prepare_process

    other = TrainConfig(train=str(demo_dataset(400, seed=1) / "train.csv"), arch="resnet_s_hm", batch_size=16, epochs=10, lr=3e-3,
                        label_origin=0.0, device="cpu")
    prepare_process(other)
    pretrained = Trainer(other, other.load_split())
    pretrained.fit()
    pretrained.save(tmp_path / "pretrained")
    smoke = TrainConfig(train=str(demo_dataset(48) / "train.csv"), arch="resnet_s_hm", label_origin=0.0, device="cpu",
                        init=str(tmp_path / "pretrained"))
    started = Trainer(smoke, smoke.load_split())  # the smoke search's faces and split, before any training
    score = rmse_px(started.predict(started.val_images), started.split.val.keypoints)
    space = tmp_path / "still.yaml"
    space.write_text("arch: resnet_s_hm\nbatch_size: 16\nlabel_origin: 0\nlr: {loguniform: [1.0e-9, 2.0e-9]}\n")
    ran = cli(search, "--smoke", "--trials", "1", "--space", space, "--init", tmp_path / "pretrained", "--storage", tmp_path / "runs",
              "--name", "init", "--no-dashboard", "--no-report")
    assert ran.code == 0, ran.err[-2000:]
    own_score = Checkpoint(tmp_path / "pretrained").val.rmse
    assert f"  resnet_s_hm: from {tmp_path / 'pretrained'} (val RMSE {own_score:.3f} px" in ran.out
    assert f"resnet_s_hm: the weights of {tmp_path.name}/pretrained" in write_report(SearchFolder(tmp_path / "runs" / "init")).read_text()
    (trial,) = SearchFolder(tmp_path / "runs" / "init").trials()
    assert trial.config.init == str(tmp_path / "pretrained")
    first = trial.history.iloc[0]
    assert first["val_rmse"] == pytest.approx(score, abs=0.25), (score, trial.history["val_rmse"].tolist())
    assert first["val_rmse"] < 0.5 * first["mean_face_rmse"], first  # far under the mean face after one epoch


def test_init_from_a_search_starts_each_architecture_from_its_best_trial_and_says_which_start_random(smoke_search):
    from search.results import SearchFolder, ranked
    from search.run import describe_start, start_weights

    best = ranked(SearchFolder(smoke_search).trials())[0]
    init = start_weights(smoke_search)
    assert init == {"cnn_gap": str(best.checkpoint.folder.resolve())}  # the smoke search tried cnn_gap alone
    said = describe_start(init, ["cnn_gap", "resnet_s", "cnn"])
    assert f"cnn_gap: from {init['cnn_gap']} (val RMSE {best.checkpoint.val.rmse:.3f} px" in said
    assert "resnet_s, cnn: from random (--init has no weights of them)" in said


def test_an_architecture_without_weights_starts_from_a_sibling_that_fills_most_of_it_and_says_so(tmp_path, write_checkpoint):
    """A resnet_m_hm checkpoint fills all of resnet_m but its regression head; resnet_s shares nothing
    with it and starts random."""
    from search.run import describe_start, family_starts

    folder = str(write_checkpoint(tmp_path / "hm", "resnet_m_hm").folder)
    starts = family_starts({"resnet_m_hm": folder}, ["resnet_s", "resnet_m", "resnet_m_hm"])
    assert starts == {"resnet_m_hm": folder, "resnet_m": folder}
    model = create_model("resnet_m")
    random = start_from(model, folder)
    assert random and all(name.startswith("head.") for name in random)
    said = describe_start(starts, ["resnet_s", "resnet_m", "resnet_m_hm"])
    share = 1 - sum(model.state_dict()[name].numel() for name in random) / sum(v.numel() for v in model.state_dict().values())
    assert f"  resnet_m: from {folder} (a resnet_m_hm: {share:.1%} of the weights, the rest random; val RMSE" in said
    assert "  resnet_s: from random" in said


def test_init_from_a_folder_that_holds_neither_a_search_nor_a_checkpoint_is_refused(tmp_path, cli):
    from search.run import main

    ran = cli(main, "--smoke", "--init", tmp_path, "--storage", tmp_path / "runs", "--no-dashboard")
    assert ran.code == 1 and "--init: neither a search folder, a complete checkpoint folder" in ran.err
    assert not (tmp_path / "runs").exists()


def test_an_ensembles_member_file_starts_the_architecture_whose_weights_it_holds(tmp_path):
    """A student or an ensemble member is a weights file in the ensemble folder (members/NAME.pt, here in
    half precision as `--dtype fp16` ships it): its architecture is recognised from its tensors, and a net
    of it starts from exactly those weights, in float32."""
    from ensemble.folder import Manifest, Member, member_bytes, member_file, read_ensemble, write_ensemble
    from search.run import describe_start, start_weights

    source = cast_floating(_marked("resnet_s_hm"), torch.float16)
    member = Member("student-resnet_s_hm", "resnet_s_hm", member_file("student-resnet_s_hm"), 1.0, 1.0, 2.0,
                    TrainConfig(arch="resnet_s_hm", label_origin=0.0).to_dict())
    manifest = Manifest([member], 2.0, 1.0, 5, "fp16", False, 0.0, "", {}, "cpu", None)
    folder = write_ensemble(tmp_path / "student", manifest, {member.name: member_bytes(source)})
    weights_file = folder / read_ensemble(folder)[0].members[0].file

    assert start_weights(weights_file) == {"resnet_s_hm": str(weights_file.resolve())}
    model = create_model("resnet_s_hm")
    assert start_from(model, str(weights_file)) == []
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, source[name].to(value.dtype), rtol=0, atol=0, msg=name)
    assert f"resnet_s_hm: from {weights_file} (a weights file)" in describe_start({"resnet_s_hm": str(weights_file)}, ["resnet_s_hm"])


@pytest.mark.parametrize("content", [b"not a torch file", "tensors"], ids=["garbage", "not_a_state_dict"])
def test_init_from_a_file_that_is_not_a_nets_weights_is_one_clear_error(tmp_path, content):
    from search.run import start_weights

    path = tmp_path / "weights.pt"
    if content == "tensors":
        torch.save([torch.zeros(3)], path)
    else:
        path.write_bytes(content)
    with pytest.raises(UserError, match="init: not a"):
        start_weights(path)


def test_init_from_the_weights_of_no_registered_architecture_is_refused(tmp_path):
    from search.run import start_weights

    torch.save({"layer.weight": torch.zeros(3, 3)}, tmp_path / "weights.pt")
    with pytest.raises(UserError, match="not the weights of any architecture"):
        start_weights(tmp_path / "weights.pt")


def test_with_head_epochs_only_the_head_trains_at_first_and_then_the_whole_net(stateful_trainer):
    """The backbone's weights and batch-norm statistics stay as they started through the head's epoch."""
    trainer = stateful_trainer(epochs=2, head_epochs=1, ema=0.0)
    start = {name: value.clone() for name, value in trainer.model.state_dict().items()}
    after = []  # the weights after each epoch
    trainer.fit(on_epoch=lambda _: after.append({name: value.clone() for name, value in trainer.model.state_dict().items()}))

    def changed(epoch: int, part: str) -> bool:
        return any(not torch.equal(after[epoch][name], start[name]) for name in start
                   if name.startswith(part) and start[name].is_floating_point())

    assert not changed(0, "backbone.") and changed(0, "head.")
    assert changed(1, "backbone.")
