import numpy as np

from data.split import make_split


def test_held_out_split_is_seeded_and_disjoint(tiny_data):
    a = make_split(str(tiny_data[0]), seed=1)
    b = make_split(str(tiny_data[0]), seed=1)
    np.testing.assert_array_equal(a.val.ids, b.val.ids)
    assert not set(a.val.ids) & set(a.train.ids)
    assert len(a.train) + len(a.val) == 48


def test_separate_validation_file_is_used_whole(tiny_data):
    split = make_split(str(tiny_data[0]), str(tiny_data[0]))
    assert len(split.val) == 48
