"""Keypoints on whole photos (ensemble.photos): a face drawn into a bigger photo at a known place and scale
comes back with its keypoints in the photo's pixels.

The faces here are 15 bright dots at known keypoints, and the model is an oracle that finds each dot in
the 96x96 crop near where the mean face has that keypoint: it knows nothing of the photo, so any error in
the crop or in the way back shows as keypoints off in the photo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from common.errors import UserError
from data.keypoints import COLUMNS, FLIP_PERMUTATION, IMAGE_SIZE
from ensemble.align import centroid_and_spread
from ensemble.detect import BoxFit, Detection, Detector
from ensemble.ensemble import Ensemble
from ensemble.folder import MANIFEST
from ensemble.photo_output import draw
from ensemble.photos import locate, to_grey
from ensemble.predict import main as predict_main

ORIGIN = 1.0  # the labels' convention: pixel column c's centre at x = c + 1
# a mean face in the 96x96 frame, label coordinates (x, y) for Kaggle's 15 keypoints, a little asymmetric
LAYOUT = np.array([[66, 37], [30, 38], [59, 38], [73, 37], [37, 38], [23, 38], [57, 29], [79, 29], [39, 29], [17, 30],
                   [48, 57], [63, 75], [33, 75], [48, 72], [48, 81]], np.float32)
SIGMA = 1.0  # the dots' Gaussian width, frame px
FIT_CENTRE, FIT_SPREAD = np.array([0.02, -0.05]), 0.3  # the test detector's boxes: the face's centroid off the box's centre, its spread (box sides)
_CENTRE, _SPREAD = centroid_and_spread(LAYOUT - ORIGIN + 0.5)
FIT = BoxFit(tuple(map(tuple, (LAYOUT - ORIGIN + 0.5 - _CENTRE) * FIT_SPREAD / _SPREAD + FIT_CENTRE)))  # the mean face's shape in its boxes
FIVE = [0, 1, 10, 11, 12]  # MTFL's keypoints: the eye centres, the nose tip, the mouth corners


class DotOracle:
    """Predicts each keypoint as the brightness centroid of the 7x7 pixels around its mean position; with
    `known`, a model trained on those keypoints only: the others have no mean position and are predicted
    at nonsense places."""

    origin = ORIGIN

    def __init__(self, known: list[int] | None = None):
        self.known = list(range(15)) if known is None else known
        self.face_layout = np.full((15, 2), np.nan, np.float32)
        self.face_layout[self.known] = LAYOUT[self.known]
        self.face_layout = self.face_layout.reshape(30)

    def predict(self, images: np.ndarray, tta: bool = False) -> np.ndarray:
        out = np.full((len(images), 30), -7.0, np.float32)
        for n, image in enumerate(images.astype(np.float32)):
            for k, (x, y) in zip(self.known, np.rint(LAYOUT[self.known] - ORIGIN).astype(int)):
                window = image[y - 3:y + 4, x - 3:x + 4]
                weight = np.clip(window - np.median(image), 0, None)
                rows, cols = np.mgrid[-3:4, -3:4]
                out[n, 2 * k:2 * k + 2] = x + (weight * cols).sum() / weight.sum() + ORIGIN, y + (weight * rows).sum() / weight.sum() + ORIGIN
        return out


def draw_face(photo: np.ndarray, keypoints: np.ndarray, scale: float) -> None:
    """Adds 15 Gaussian dots at (15, 2) label-coordinate keypoints, `scale` photo px per frame px."""
    rows, cols = np.mgrid[0:photo.shape[0], 0:photo.shape[1]]
    for x, y in keypoints - ORIGIN:
        dot = 200 * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * (SIGMA * scale) ** 2))
        photo += dot[..., None] if photo.ndim == 3 else dot


def placed(scale: float, offset: tuple[float, float], mirrored: bool = False) -> np.ndarray:
    """The mean face moved into a photo: (15, 2) label coordinates there (mirrored: its mirror image,
    left and right keypoints swapping names)."""
    points = LAYOUT.reshape(30)[FLIP_PERMUTATION].reshape(15, 2).copy() if mirrored else LAYOUT.copy()
    if mirrored:
        points[:, 0] = IMAGE_SIZE - 1 + 2 * ORIGIN - points[:, 0]
    return (points - ORIGIN + 0.5) * scale + np.array(offset) - 0.5 + ORIGIN


def box_for(keypoints: np.ndarray, shift: float = 0.0, grow: float = 1.0) -> Detection:
    """The box a detector with box fit FIT draws around these keypoints (shifted by `shift` box sides and
    `grow` times too big: a detector's error)."""
    centre, spread = centroid_and_spread(keypoints - ORIGIN + 0.5)
    size = spread / FIT_SPREAD * grow
    cx, cy = centre - FIT_CENTRE * size + shift * size
    return Detection((cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2), 1.0)


def detector_of(*detections: Detection) -> Detector:
    return Detector("test", lambda grey: list(detections), FIT)


@pytest.mark.parametrize(("scale", "offset", "mirrored", "colour"), [
    (1.0, (40, 25), False, False),
    (2.5, (130.3, 60.7), False, True),
    (0.6, (300, 10), True, False),
    (3.2, (5, 90), True, True),
])
def test_a_face_in_a_photo_comes_back_in_the_photos_pixels(scale, offset, mirrored, colour):
    truth = placed(scale, offset, mirrored)
    photo = np.full((500, 520, 3) if colour else (500, 520), 40.0)
    draw_face(photo, truth, scale)
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    [face] = locate(DotOracle(), to_grey(photo), detector_of(box_for(truth)), refine=0)
    assert np.abs(face.keypoints.reshape(15, 2) - truth).max() < 0.15 * max(scale, 1)


def test_the_refinement_pass_recovers_a_box_off_in_place_and_scale():
    truth = placed(2.0, (100, 80))
    photo = np.full((400, 400), 40.0)
    draw_face(photo, truth, 2.0)
    photo = photo.astype(np.uint8)
    off = detector_of(box_for(truth, shift=0.02, grow=1.05))
    first = locate(DotOracle(), photo, off, refine=0)[0].keypoints.reshape(15, 2)
    refined = locate(DotOracle(), photo, off, refine=1)[0].keypoints.reshape(15, 2)
    assert np.abs(refined - truth).max() < 0.3 < np.abs(first - truth).max()


def test_two_faces_give_two_answers_the_larger_first():
    small, large = placed(1.0, (20, 20)), placed(2.0, (150, 150))
    photo = np.full((400, 400), 40.0)
    draw_face(photo, small, 1.0)
    draw_face(photo, large, 2.0)
    faces = locate(DotOracle(), photo.astype(np.uint8), detector_of(box_for(small), box_for(large)))
    assert len(faces) == 2
    for face, truth in zip(faces, (large, small)):
        assert np.abs(face.keypoints.reshape(15, 2) - truth).max() < 0.3


def test_a_model_of_five_keypoints_is_placed_by_them_and_leaves_the_others_empty(tmp_path):
    truth = placed(1.5, (60, 70))
    photo = np.full((300, 300), 40.0)
    draw_face(photo, truth[FIVE], 1.5)
    photo = photo.astype(np.uint8)
    [face] = locate(DotOracle(known=FIVE), photo, detector_of(box_for(truth, shift=0.02)), refine=1)
    points = face.keypoints.reshape(15, 2)
    assert np.abs(points[FIVE] - truth[FIVE]).max() < 0.3
    assert np.isnan(np.delete(points, FIVE, axis=0)).all()
    assert draw(photo, [face], ORIGIN, tmp_path / "drawn.png").exists()


def test_a_photo_without_a_face_has_no_answers():
    assert locate(DotOracle(), np.full((100, 100), 40, np.uint8), detector_of()) == []


# The command: python -m ensemble.predict --images ...

LAYOUT_MANIFEST = {"face_layout": LAYOUT.reshape(30).tolist()}


def test_photos_without_a_face_are_rows_without_keypoints_not_errors(one_member_ensemble, tmp_path, capsys):
    pytest.importorskip("cv2")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.full((120, 160), 90, np.uint8)).save(photos / "grey.png")
    Image.fromarray(np.full((200, 150, 3), (30, 120, 200), np.uint8)).save(photos / "colour.jpg")
    ensemble = one_member_ensemble(tmp_path / "ens", **LAYOUT_MANIFEST)
    out = tmp_path / "keypoints.csv"
    predict_main(["--ensemble", str(ensemble), "--images", str(photos), "--out", str(out), "--draw", str(tmp_path / "drawn")])
    rows = pd.read_csv(out)
    assert sorted(Path(p).name for p in rows["image"]) == ["colour.jpg", "grey.png"]
    assert rows[COLUMNS].isna().all().all() and rows["face"].isna().all()
    assert "no face found in 2 photos" in capsys.readouterr().out
    assert len(list((tmp_path / "drawn").glob("*.png"))) == 2


def test_an_unreadable_photo_is_one_error_that_names_it_before_any_work(one_member_ensemble, tmp_path, capsys):
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "broken.jpg").write_bytes(b"these are not JPEG bytes")
    ensemble = one_member_ensemble(tmp_path / "ens", **LAYOUT_MANIFEST)
    with pytest.raises(SystemExit):
        predict_main(["--ensemble", str(ensemble), "--images", str(tmp_path / "*.png"), str(tmp_path / "broken.jpg"),
                      "--out", str(tmp_path / "k.csv")])
    assert "broken.jpg: not a readable image" in capsys.readouterr().err
    assert not (tmp_path / "k.csv").exists()


def test_a_folder_from_before_face_layouts_takes_its_layout_from_its_training_file(one_member_ensemble, tiny_data, tmp_path):
    train, _ = tiny_data
    folder = one_member_ensemble(tmp_path / "ens", data={"train": str(train)})
    manifest = json.loads((folder / MANIFEST).read_text())
    del manifest["face_layout"]
    (folder / MANIFEST).write_text(json.dumps({**manifest, "format_version": 6}))
    layout = Ensemble(folder).face_layout.reshape(15, 2)
    # the synthetic faces' eyes sit above their mouths, left eye (subject's) on the right
    assert layout[0, 0] > layout[1, 0] and layout[0, 1] < layout[14, 1] and 0 < layout.min() and layout.max() < IMAGE_SIZE


def test_a_folder_from_before_face_layouts_without_its_training_file_says_so(one_member_ensemble, tmp_path):
    folder = one_member_ensemble(tmp_path / "ens", data={"train": str(tmp_path / "gone.csv")})
    manifest = json.loads((folder / MANIFEST).read_text())
    (folder / MANIFEST).write_text(json.dumps({**manifest, "face_layout": None, "format_version": 6}))
    with pytest.raises(UserError, match="gone.csv is gone: rebuild it"):
        _ = Ensemble(folder).face_layout


def test_the_readmes_python_example_runs(one_member_ensemble, tmp_path, monkeypatch, capsys):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    example = readme.split("<!-- api-example -->\n```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    one_member_ensemble(tmp_path / "runs/my-search/student", **LAYOUT_MANIFEST)
    Image.fromarray(np.full((80, 60, 3), 128, np.uint8)).save(tmp_path / "photo.jpg")
    monkeypatch.setattr("ensemble.ensemble.create_detector", lambda name: detector_of(Detection((10, 12, 50, 52), 1.0)))  # one face
    namespace: dict = {}
    exec(example, namespace)
    assert namespace["keypoints"].shape == (2, 30)
    printed = capsys.readouterr().out
    assert printed.startswith("(10, 12, 50, 52) [[") and printed.count("\n") == 15  # the box, then 15 rows of x y


def test_a_large_photo_is_searched_shrunk_and_its_boxes_come_back_at_full_size():
    seen = []

    def find(grey: np.ndarray) -> list[Detection]:  # a face in the middle third of whatever it is shown
        seen.append(grey.shape)
        h, w = grey.shape
        return [Detection((w / 3, h / 3, 2 * w / 3, 2 * h / 3), 1.0)]

    [face] = Detector("test", find, FIT).faces(np.zeros((2400, 3000), np.uint8))
    assert max(seen[0]) <= 1024
    np.testing.assert_allclose(face.box, (1000, 800, 2000, 1600), atol=1.5)
