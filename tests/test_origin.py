"""The label origin: recognised from the faces, and every flip mirrors about the axis it implies."""

import numpy as np
import pytest
import torch

from data.faces import Faces
from data.keypoints import X_COLUMNS
from data.origin import estimate_origin, infer_origin, nearest_convention
from data.synthetic import make_faces
from data.transforms import mirror_keypoints
from search.config import TrainConfig


@pytest.fixture(scope="module")
def faces() -> Faces:
    """Synthetic faces, drawn in the pixel-index convention (origin 0)."""
    images, keypoints = make_faces(400, seed=5)
    return Faces(images, keypoints, np.arange(400), "synthetic")


def _shifted(faces: Faces, origin: float) -> Faces:
    """The same faces labelled by a tool whose top-left pixel centre is at (origin, origin)."""
    return Faces(faces.images, faces.keypoints + origin, faces.ids, faces.source)


@pytest.mark.parametrize("origin", [0.0, 0.5, 1.0])
def test_the_estimate_recognises_each_convention(faces, origin):
    estimate = estimate_origin(_shifted(faces, origin))
    assert abs(estimate - origin) < 0.15 and nearest_convention(estimate) == origin


def test_too_few_labelled_faces_fall_back_to_pixel_index_with_a_warning(faces, capsys):
    few = faces.subset(np.arange(20))
    with pytest.raises(ValueError, match="too few labelled faces"):
        estimate_origin(few)
    assert infer_origin(_shifted(few, 1.0)) == 0.0 and "assuming label origin 0" in capsys.readouterr().err


@pytest.mark.parametrize("origin", [0.0, 1.0])
def test_a_mirrored_keypoint_sits_on_the_mirrored_pixel(origin):
    column = 30  # a keypoint on pixel column 30 is labelled x = 30 + origin
    keypoints = torch.full((1, 30), 40.0)
    keypoints[0, X_COLUMNS] = column + origin
    mirrored = mirror_keypoints(keypoints, origin)
    assert torch.all(mirrored[0, X_COLUMNS] == (95 - column) + origin)  # np.fliplr sends column 30 to 65


def test_the_trainer_records_the_origin_it_resolved(faces):
    from data.split import Split
    from search.trainer import Trainer

    split = Split(_shifted(faces, 1.0), _shifted(faces, 1.0).subset(np.arange(50)))
    trainer = Trainer(TrainConfig(arch="cnn_gap", batch_size=16, epochs=1), split)
    assert trainer.config.label_origin == "1.0" and trainer.augment.origin == 1.0


def test_a_given_origin_is_kept_and_a_word_is_refused(faces):
    from data.split import Split

    split = Split(faces, faces)
    assert TrainConfig(label_origin="0.5").with_label_origin(split).origin == 0.5
    with pytest.raises(ValueError, match="label_origin must be a number of pixels or auto"):
        TrainConfig(label_origin="left")


def test_configs_saved_before_the_origin_existed_load_as_pixel_index():
    saved = TrainConfig(label_origin="0").to_dict()
    del saved["label_origin"]
    assert TrainConfig.from_saved(saved).origin == 0.0
