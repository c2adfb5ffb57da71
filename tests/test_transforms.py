import numpy as np
import torch

from data.keypoints import COLUMNS, KEYPOINT_NAMES
from data.transforms import denormalise_keypoints, mirror_keypoints, normalise_keypoints, rmse_px


def _dotted_image(keypoints: np.ndarray) -> np.ndarray:
    """A black image with a distinct grey level (10, 20, ...) at each keypoint's pixel."""
    image = np.zeros((96, 96), np.float32)
    for k in range(15):
        x, y = keypoints[2 * k], keypoints[2 * k + 1]
        image[int(round(y)), int(round(x))] = 10 * (k + 1)
    return image


def test_flipped_keypoints_sit_on_their_dots_under_the_partners_name():
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(5, 90, size=30).astype(np.float32)
    image = _dotted_image(keypoints)
    flipped_image, flipped = np.fliplr(image), mirror_keypoints(torch.from_numpy(keypoints)[None])[0].numpy()
    for k, name in enumerate(KEYPOINT_NAMES):
        dot = np.argwhere(flipped_image == 10 * (k + 1))[0]  # (row, col) where keypoint k's dot went
        partner = name.replace("left", "@").replace("right", "left").replace("@", "right")
        j = COLUMNS.index(f"{partner}_x") // 2
        assert abs(flipped[2 * j] - dot[1]) <= 0.5, name
        assert abs(flipped[2 * j + 1] - dot[0]) <= 0.5, name


def test_normalisation_round_trips_and_centres_the_frame():
    px = torch.tensor([[0.0, 48.0, 96.0]])
    np.testing.assert_allclose(normalise_keypoints(px), [[-1.0, 0.0, 1.0]])
    np.testing.assert_allclose(denormalise_keypoints(normalise_keypoints(px)), px)


def test_rmse_is_over_labelled_coordinates_in_pixels():
    truth = np.array([[10.0, np.nan], [20.0, 30.0]])
    assert rmse_px(np.array([[13.0, 0.0], [24.0, 30.0]]), truth) == np.sqrt((9 + 16 + 0) / 3)


def test_the_mean_face_of_a_set_without_some_keypoints_leaves_them_out_silently():
    """Five of Kaggle's fifteen keypoints labelled (as MTFL): the baseline is over those, without numpy's warning."""
    import warnings

    from data.transforms import mean_face_rmse

    train, val = np.full((4, 30), np.nan), np.full((2, 30), np.nan)
    train[:, :10], val[:, :10] = [[40.0] * 10, [44.0] * 10, [40.0] * 10, [44.0] * 10], [[40.0] * 10, [44.0] * 10]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mean_face_rmse(train, val) == 2.0
