"""The label origin: recognised from the faces, and every flip mirrors about the axis it implies."""

import numpy as np
import pytest
import torch

from data.faces import Faces
from data.keypoints import X_COLUMNS
from data.origin import estimate_origin, infer_origin
from data.synthetic import make_faces
from data.transforms import mirror_keypoints
from training.config import TrainConfig


@pytest.fixture(scope="module")
def faces() -> Faces:
    """Synthetic faces, drawn in the pixel-index convention (origin 0)."""
    images, keypoints = make_faces(400, seed=5)
    return Faces(images, keypoints, np.arange(400), "synthetic")


def _shifted(faces: Faces, origin: float) -> Faces:
    """The same faces labelled by a tool whose top-left pixel centre is at (origin, origin)."""
    return Faces(faces.images, faces.keypoints + origin, faces.ids, faces.source)


@pytest.mark.parametrize("origin", [0.0, 0.5, 1.0])
def test_the_estimate_recognises_each_convention_and_is_sure_of_it(faces, origin):
    estimate = estimate_origin(_shifted(faces, origin))
    assert abs(estimate.value - origin) < 0.15 and estimate.is_sure and estimate.convention == origin
    assert estimate.low < estimate.value < estimate.high


def test_labels_an_ensemble_filled_in_do_not_move_the_estimate(faces):
    """Half the faces' labels filled in by an ensemble of another convention (1 px off): the estimate is
    the true labels' convention, as if those were missing."""
    filled = np.zeros(faces.keypoints.shape, bool)
    filled[::2] = True
    shifted = Faces(faces.images, np.where(filled, faces.keypoints + 1.0, faces.keypoints), faces.ids, faces.source, filled=filled)
    estimate = estimate_origin(shifted)
    assert estimate.convention == 0.0 and estimate.faces == 200


@pytest.mark.parametrize("origin", [0.0, 0.5, 1.0])
def test_on_small_subsets_the_estimate_is_right_or_warns(faces, origin, capsys):
    outcomes = []
    for seed in range(8):
        subset = _shifted(faces, origin).subset(np.random.default_rng(seed).choice(len(faces), 100, replace=False))
        inferred = infer_origin(subset)
        warned = "warning:" in capsys.readouterr().err
        assert inferred == origin or warned, f"seed {seed}: silently {inferred} for origin {origin}"
        outcomes.append(warned)
    assert any(outcomes) or origin == 1.0, "100 faces are too few to be sure every time: the check above proved nothing"


def test_uncertain_estimates_warn_naming_the_candidates_and_how_to_choose(faces, capsys):
    subsets = (_shifted(faces, 0.5).subset(np.arange(start, start + 100)) for start in range(0, 300, 100))
    subset = next(s for s in subsets if not estimate_origin(s).is_sure)
    estimate = estimate_origin(subset)
    infer_origin(subset)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "label origin uncertain" in err and "set label_origin" in err
    assert " or ".join(f"{c:g}" for c in estimate.candidates) in err


def test_plain_grey_images_warn_and_assume_the_pixel_index_convention(faces, capsys):
    grey = Faces(np.full_like(faces.images, 128), faces.keypoints + 1.0, faces.ids, "grey.csv")
    assert infer_origin(grey) == 0.0
    assert "grey.csv: the images do not show where the faces are" in capsys.readouterr().err


def test_too_few_labelled_faces_fall_back_to_pixel_index_with_a_warning(faces, capsys):
    few = faces.subset(np.arange(99))
    with pytest.raises(ValueError, match="too few labelled faces"):
        estimate_origin(few)
    assert infer_origin(_shifted(few, 1.0)) == 0.0 and "assuming label origin 0" in capsys.readouterr().err


def test_a_pair_labelled_on_few_faces_counts_for_less(faces):
    """Kaggle-style: most faces label four keypoints only; the estimate still uses every face."""
    sparse = _shifted(faces, 1.0).keypoints.copy()
    sparse[100:, 4:20] = np.nan  # eye corners and brows on only 100 of 400 faces
    estimate = estimate_origin(Faces(faces.images, sparse, faces.ids, "sparse"))
    assert estimate.faces == 400 and estimate.convention == 1.0


@pytest.mark.parametrize("origin", [0.0, 1.0])
def test_a_mirrored_keypoint_sits_on_the_mirrored_pixel(origin):
    column = 30  # a keypoint on pixel column 30 is labelled x = 30 + origin
    keypoints = torch.full((1, 30), 40.0)
    keypoints[0, X_COLUMNS] = column + origin
    mirrored = mirror_keypoints(keypoints, origin)
    assert torch.all(mirrored[0, X_COLUMNS] == (95 - column) + origin)  # np.fliplr sends column 30 to 65


def test_the_trainer_records_the_origin_it_resolved(faces):
    from data.split import Split
    from training.trainer import Trainer

    split = Split(_shifted(faces, 1.0), _shifted(faces, 1.0).subset(np.arange(50)))
    trainer = Trainer(TrainConfig(arch="cnn_gap", batch_size=16, epochs=1), split)
    assert trainer.config.label_origin == 1.0 and trainer.augment.origin == 1.0


def test_a_given_origin_is_kept_and_a_word_is_refused(faces):
    from data.split import Split

    split = Split(faces, faces)
    assert TrainConfig.from_dict({"label_origin": "0.5"}).with_label_origin(split).origin == 0.5
    with pytest.raises(ValueError, match="label_origin must be a number of pixels or auto"):
        TrainConfig.from_dict({"label_origin": "left"})


def test_configs_saved_before_the_origin_existed_load_as_pixel_index():
    saved = TrainConfig(label_origin=0.0).to_dict()
    del saved["label_origin"]
    assert TrainConfig.from_saved(saved).origin == 0.0
