"""Synthetic faces with exact keypoints: the built-in demo data and the tests' data.

`python -m data.synthetic --out DIR --n N --seed S` writes DIR/train.csv (course layout: unnamed
index, 30 keypoint columns, Image) and DIR/test.csv (Kaggle layout: ImageId, Image).

Each face is drawn in a canonical frame (origin between the eyes and mouth, units of pixels at scale
1) and then rotated, scaled and moved; outline, eyes, brows, nose and mouth are rasterised from
distance fields, under a lighting gradient and sensor noise. The keypoints are the same canonical
points pushed through the same transform, so they are exact.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from common.files import write_csv_atomically

from .keypoints import COLUMNS, IMAGE_SIZE, KEYPOINT_NAMES

_GRID = np.stack(np.meshgrid(np.arange(IMAGE_SIZE), np.arange(IMAGE_SIZE)), axis=-1).astype(np.float32)  # (96, 96, 2) x, y


def _canonical_keypoints(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One face's 15 keypoints in the canonical frame, with per-person proportions."""
    eye_x, eye_y = rng.uniform(15, 20), rng.uniform(-14, -9)
    eye_half = rng.uniform(5, 7)  # half the eye's width
    brow_y = eye_y - rng.uniform(9, 13)
    mouth_y, mouth_half = rng.uniform(18, 24), rng.uniform(10, 15)
    lip = rng.uniform(2.5, 4.5)
    p = {
        "left_eye_center": (eye_x, eye_y),
        "right_eye_center": (-eye_x, eye_y),
        "left_eye_inner_corner": (eye_x - eye_half, eye_y),
        "left_eye_outer_corner": (eye_x + eye_half, eye_y),
        "right_eye_inner_corner": (-eye_x + eye_half, eye_y),
        "right_eye_outer_corner": (-eye_x - eye_half, eye_y),
        "left_eyebrow_inner_end": (eye_x - eye_half - 1, brow_y),
        "left_eyebrow_outer_end": (eye_x + eye_half + 4, brow_y + 2),
        "right_eyebrow_inner_end": (-eye_x + eye_half + 1, brow_y),
        "right_eyebrow_outer_end": (-eye_x - eye_half - 4, brow_y + 2),
        "nose_tip": (0.0, rng.uniform(4, 10)),
        "mouth_left_corner": (mouth_half, mouth_y),
        "mouth_right_corner": (-mouth_half, mouth_y),
        "mouth_center_top_lip": (0.0, mouth_y - lip),
        "mouth_center_bottom_lip": (0.0, mouth_y + lip),
    }
    return {name: np.array(xy, np.float32) for name, xy in p.items()}


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each point (..., 2) to the segment a-b."""
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-6), 0, 1)
    return np.linalg.norm(points - (a + t[..., None] * ab), axis=-1)


def _ellipse(points: np.ndarray, centre: np.ndarray, rx: float, ry: float) -> np.ndarray:
    """Soft ellipse mask in [0, 1] (1 inside), with a one-pixel antialiased edge."""
    r = np.sqrt(((points[..., 0] - centre[0]) / rx) ** 2 + ((points[..., 1] - centre[1]) / ry) ** 2)
    return np.clip((1 - r) * min(rx, ry) + 0.5, 0, 1)


def draw_face(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic face: (96, 96) uint8 image and its (30,) keypoints in pixels."""
    canonical = _canonical_keypoints(rng)
    angle = np.deg2rad(rng.uniform(-15, 15))
    scale = rng.uniform(0.85, 1.15)
    centre = np.array([48 + rng.uniform(-5, 5), 46 + rng.uniform(-5, 5)], np.float32)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)

    # Pixel grid in the canonical frame: every shape below is drawn there, undistorted.
    local = ((_GRID - centre) @ rotation) / scale  # inverse of x = centre + scale * R p  (R orthogonal)

    background = rng.uniform(20, 200) + rng.uniform(-40, 40) * (_GRID[..., 0] / IMAGE_SIZE - 0.5)
    skin = rng.uniform(90, 230)
    image = background + (skin - background) * _ellipse(local, np.array([0, 2], np.float32), rng.uniform(34, 40), rng.uniform(42, 48))
    dark = skin * rng.uniform(0.15, 0.45)  # brightness of eyes, brows, nostrils and mouth

    def paint(mask: np.ndarray, value: float) -> None:
        nonlocal image
        image = image + (value - image) * mask

    for side in ("left", "right"):
        inner, outer = canonical[f"{side}_eye_inner_corner"], canonical[f"{side}_eye_outer_corner"]
        eye = canonical[f"{side}_eye_center"]
        paint(_ellipse(local, eye, abs(outer[0] - inner[0]) / 2, rng.uniform(2.5, 3.5)), 240)  # white of the eye
        paint(_ellipse(local, eye, 2.4, 2.4), dark * 0.5)  # iris and pupil
        brow_a, brow_b = canonical[f"{side}_eyebrow_inner_end"], canonical[f"{side}_eyebrow_outer_end"]
        paint(np.clip(1.8 - _segment_distance(local, brow_a, brow_b), 0, 1), dark)
    nose = canonical["nose_tip"]
    paint(np.clip(1.2 - _segment_distance(local, np.array([0, nose[1] - 14], np.float32), nose), 0, 1) * 0.5, dark)
    for dx in (-3.0, 3.0):
        paint(_ellipse(local, nose + np.array([dx, 1], np.float32), 1.8, 1.2), dark)
    left, right = canonical["mouth_left_corner"], canonical["mouth_right_corner"]
    top, bottom = canonical["mouth_center_top_lip"], canonical["mouth_center_bottom_lip"]
    paint(_ellipse(local, (top + bottom) / 2, (left[0] - right[0]) / 2, (bottom[1] - top[1]) / 2), dark * 1.3)

    lighting = 1 + rng.uniform(-0.3, 0.3) * (_GRID[..., 0] / IMAGE_SIZE - 0.5)
    image = image * lighting + rng.normal(0, rng.uniform(2, 8), image.shape)
    points = centre + scale * np.stack([canonical[n] for n in KEYPOINT_NAMES]) @ rotation.T  # (15, 2)
    return np.clip(image, 0, 255).round().astype(np.uint8), points.reshape(-1)


def make_faces(n: int, seed: int, missing: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n faces: images (n, 96, 96) uint8 and keypoints (n, 30) float32; `missing` of the rows keep
    only the four Kaggle 'always present' keypoints (eyes, nose tip, bottom lip), like Kaggle's file."""
    rng = np.random.default_rng(seed)
    images, keypoints = zip(*(draw_face(rng) for _ in range(n)))
    keypoints = np.array(keypoints, np.float32)
    always = [COLUMNS.index(f"{k}_{a}") for k in ("left_eye_center", "right_eye_center", "nose_tip", "mouth_center_bottom_lip") for a in "xy"]
    sparse = rng.random(n) < missing
    keypoints[np.ix_(sparse, np.setdiff1d(np.arange(len(COLUMNS)), always))] = np.nan
    return np.stack(images), keypoints


def images_to_strings(images: np.ndarray) -> list[str]:
    return [" ".join(map(str, image.ravel().tolist())) for image in images]


def write_dataset(out: Path, n: int, seed: int, *, n_test: int | None = None, missing: float = 0.0) -> tuple[Path, Path]:
    """Write out/train.csv (n labelled faces) and out/test.csv (n_test unlabelled, default n // 4)."""
    images, keypoints = make_faces(n, seed, missing)
    train = pd.DataFrame(keypoints, columns=COLUMNS).assign(Image=images_to_strings(images))
    test_images, _ = make_faces(n_test if n_test is not None else max(1, n // 4), seed + 1)
    test = pd.DataFrame({"ImageId": np.arange(1, len(test_images) + 1), "Image": images_to_strings(test_images)})
    write_csv_atomically(train, out / "train.csv", index=True, float_format="%.4f")
    write_csv_atomically(test, out / "test.csv", index=False)
    return out / "train.csv", out / "test.csv"


DEMO_FACES = 1500  # enough for the nets to learn the synthetic geometry in a few CPU epochs


def demo_dataset(n: int = DEMO_FACES, seed: int = 0) -> Path:
    """The built-in demo data (train.csv, test.csv), drawn once into the cache folder and reused."""
    from .cache import cache_dir

    out = cache_dir() / f"demo-n{n}-seed{seed}"
    if not (out / "test.csv").is_file():
        print(f"drawing {n} synthetic demo faces into {out} ...", flush=True)
        write_dataset(out, n, seed)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m data.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for train.csv and test.csv")
    parser.add_argument("--n", type=int, default=1000, help="labelled training faces")
    parser.add_argument("--n-test", type=int, default=None, help="test faces (default n // 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--missing", type=float, default=0.0, help="fraction of rows with only 4 keypoints labelled")
    args = parser.parse_args(argv)
    train, test = write_dataset(args.out, args.n, args.seed, n_test=args.n_test, missing=args.missing)
    print(f"wrote {train} and {test}")


if __name__ == "__main__":
    main()
