import numpy as np

from data.synthetic import make_faces


def test_same_seed_same_faces_and_keypoints_inside_the_frame():
    images, keypoints = make_faces(6, seed=5)
    again, _ = make_faces(6, seed=5)
    np.testing.assert_array_equal(images, again)
    assert images.shape == (6, 96, 96) and keypoints.shape == (6, 30)
    assert keypoints.min() > 0 and keypoints.max() < 95


def test_eye_keypoints_are_on_dark_pupils():
    images, keypoints = make_faces(8, seed=2)
    for image, k in zip(images, keypoints):
        pupil = image[int(round(k[1])), int(round(k[0]))]
        assert pupil < np.median(image)


def test_missing_fraction_keeps_four_keypoints():
    _, keypoints = make_faces(40, seed=0, missing=0.5)
    sparse = np.isnan(keypoints).any(axis=1)
    assert 5 < sparse.sum() < 35
    assert (np.isnan(keypoints[sparse]).sum(axis=1) == 22).all()
