import numpy as np

from data.keypoints import COLUMNS, FLIP_PERMUTATION, KEYPOINTS

# training.csv's header as Kaggle ships it, copied from the file (the last column is Image)
KAGGLE_HEADER = (
    "left_eye_center_x,left_eye_center_y,right_eye_center_x,right_eye_center_y,left_eye_inner_corner_x,left_eye_inner_corner_y,"
    "left_eye_outer_corner_x,left_eye_outer_corner_y,right_eye_inner_corner_x,right_eye_inner_corner_y,right_eye_outer_corner_x,"
    "right_eye_outer_corner_y,left_eyebrow_inner_end_x,left_eyebrow_inner_end_y,left_eyebrow_outer_end_x,left_eyebrow_outer_end_y,"
    "right_eyebrow_inner_end_x,right_eyebrow_inner_end_y,right_eyebrow_outer_end_x,right_eyebrow_outer_end_y,nose_tip_x,nose_tip_y,"
    "mouth_left_corner_x,mouth_left_corner_y,mouth_right_corner_x,mouth_right_corner_y,mouth_center_top_lip_x,mouth_center_top_lip_y,"
    "mouth_center_bottom_lip_x,mouth_center_bottom_lip_y,Image"
)


def test_columns_are_kaggles_thirty_in_order():
    assert COLUMNS + ["Image"] == KAGGLE_HEADER.split(",")


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
