"""Augmentation moves every keypoint exactly as it moves the pixels under it."""

import pytest
import torch

from data.augment import AUGMENTATIONS, Augmentation, affine_matrices, random_hflip, warp
from data.keypoints import KEYPOINT_NAMES, KEYPOINTS
from data.transforms import mirror_keypoints

# 15 keypoints on a 5 x 3 grid, 14 px apart: each dot's neighbourhood holds only that dot.
GRID = torch.tensor([[20.0 + 14 * (k % 5), 34.0 + 14 * (k // 5)] for k in range(15)]).reshape(1, 30)
PARTNER = [KEYPOINT_NAMES.index(KEYPOINTS[name] or name) for name in KEYPOINT_NAMES]


def _dots() -> torch.Tensor:
    """(15, 1, 96, 96): image k holds one Gaussian dot (sigma 1 px) at GRID's keypoint k."""
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    points = GRID.view(15, 2)
    return torch.exp(-((xs - points[:, 0, None, None]) ** 2 + (ys - points[:, 1, None, None]) ** 2) / 2)[:, None]


def _dot_error(image: torch.Tensor, point: torch.Tensor, radius: int = 4) -> float:
    """Distance (px) from `point` to the intensity centroid of image (96, 96) within `radius` of it."""
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    window = ((xs - point[0]) ** 2 + (ys - point[1]) ** 2 <= radius**2) * image
    centroid = torch.stack([(window * xs).sum(), (window * ys).sum()]) / window.sum()
    return float((centroid - point).norm())


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("origin", [0.0, 1.0])
def test_each_dot_lands_under_its_keypoint_after_flip_and_affine(flip, origin):
    """origin 1: the labels put pixel column c at x = c + 1, as 1-based tools do."""
    generator = torch.Generator().manual_seed(1)
    images, keypoints = _dots(), GRID.repeat(15, 1) + origin
    if flip:
        images, keypoints = images.flip(-1), mirror_keypoints(keypoints, origin)
    matrices = Augmentation(ranges={"rotate": 15, "scale": 0.1, "shift": 4}).random_matrices(15, generator)
    images, keypoints = warp(images, keypoints, matrices, origin)
    for k in range(15):
        j = PARTNER[k] if flip else k  # a mirrored left eye is the face's right eye
        assert _dot_error(images[k, 0], keypoints[k].view(15, 2)[j] - origin) <= 0.5, KEYPOINT_NAMES[k]


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_every_registered_augmentation_keeps_every_dot_under_its_own_or_partner_keypoint(name):
    """Each op alone at its default range (flip on too): a dot is where its keypoint says it is."""
    generator = torch.Generator().manual_seed(0)
    augment = Augmentation(flip=True, ranges={name: AUGMENTATIONS[name].default})
    images, keypoints, _ = augment(_dots(), GRID.repeat(15, 1), generator)
    for k in range(15):
        errors = torch.tensor([_dot_error(images[k, 0], keypoints[k].view(15, 2)[j]) for j in {k, PARTNER[k]}])
        assert errors.nan_to_num(float("inf")).min() <= 0.5, KEYPOINT_NAMES[k]  # NaN: no dot near that keypoint


def test_a_keypoint_pushed_out_of_the_frame_is_missing():
    keypoints = GRID.clone()
    keypoints[0, :2] = torch.tensor([3.0, 50.0])  # near the left edge
    shift_left = affine_matrices(torch.zeros(1), torch.ones(1), torch.tensor([[-10.0, 0.0]]))
    _, moved = warp(torch.zeros(1, 1, 96, 96), keypoints, shift_left)
    assert torch.isnan(moved[0, :2]).all()
    torch.testing.assert_close(moved[0, 2:], keypoints[0, 2:] - torch.tensor([10.0, 0.0]).repeat(14))


def test_random_hflip_keeps_missing_labels_missing_and_flips_some():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(64, 1, 96, 96)
    keypoints = torch.full((64, 30), 40.0)
    keypoints[:, 4:] = float("nan")
    out_images, out_keypoints, _ = random_hflip(images, keypoints, generator)
    assert torch.isnan(out_keypoints[:, 4:]).all() and not torch.isnan(out_keypoints[:, :4]).any()
    flipped = (out_images != images).flatten(1).any(1)
    assert 10 < flipped.sum() < 54


def test_loss_weights_follow_their_keypoints_names_on_a_flip():
    generator = torch.Generator().manual_seed(0)
    keypoints = GRID.repeat(64, 1)
    weights = torch.ones(64, 30)
    weights[:, 0:2] = 0.25  # keypoint 0 (left_eye_center) was filled in
    images, out_keypoints, out_weights = random_hflip(torch.rand(64, 1, 96, 96), keypoints, generator, weights=weights)
    flipped = out_keypoints[:, 0] != keypoints[:, 0]
    assert 10 < flipped.sum() < 54
    partner = 2 * PARTNER[0]  # a mirrored left eye is the face's right eye
    assert (out_weights[flipped, partner:partner + 2] == 0.25).all() and (out_weights[flipped, 0:2] == 1).all()
    assert torch.equal(out_weights[~flipped], weights[~flipped])


def test_photometric_changes_stay_in_range_and_leave_keypoints_alone():
    generator = torch.Generator().manual_seed(0)
    images, keypoints = torch.rand(8, 1, 96, 96), GRID.repeat(8, 1)
    augment = Augmentation(flip=False, ranges={"brightness": 0.3, "contrast": 0.3, "gamma": 0.3, "noise": 0.05})
    out_images, out_keypoints, _ = augment(images, keypoints, generator)
    assert out_images.min() >= 0 and out_images.max() <= 1 and not torch.equal(out_images, images)
    torch.testing.assert_close(out_keypoints, keypoints)


@pytest.mark.parametrize("origin", [0.0, 1.0])
def test_the_frame_a_keypoint_is_pushed_out_of_is_the_one_its_label_origin_implies(origin):
    """A keypoint 0.3 px beyond the last pixel's centre is still on that pixel; 0.7 px beyond is off the image."""
    keypoints = GRID.repeat(2, 1) + origin
    keypoints[0, 0], keypoints[1, 0] = 95.3 + origin, 95.7 + origin
    identity = affine_matrices(torch.zeros(2), torch.ones(2), torch.zeros(2, 2))
    _, moved = warp(torch.zeros(2, 1, 96, 96), keypoints, identity, origin)
    assert not torch.isnan(moved[0, :2]).any() and torch.isnan(moved[1, :2]).all()
