import numpy as np

from data.keypoints import COLUMNS, FLIP_PERMUTATION, KEYPOINTS


def test_columns_are_kaggles_thirty_in_order():
    assert len(COLUMNS) == 30
    assert COLUMNS[:2] == ["left_eye_center_x", "left_eye_center_y"]
    assert COLUMNS[-1] == "mouth_center_bottom_lip_y"


def test_partners_are_mutual():
    for name, partner in KEYPOINTS.items():
        assert partner is None or KEYPOINTS[partner] == name


def test_flip_permutation_maps_left_to_right_and_keeps_axes():
    perm = FLIP_PERMUTATION
    assert COLUMNS[perm[COLUMNS.index("left_eye_center_x")]] == "right_eye_center_x"
    assert COLUMNS[perm[COLUMNS.index("mouth_left_corner_y")]] == "mouth_right_corner_y"
    assert COLUMNS[perm[COLUMNS.index("nose_tip_x")]] == "nose_tip_x"
    assert sorted(perm) == list(range(30))
    np.testing.assert_array_equal(perm[perm], np.arange(30))
