"""What `ensemble.predict --images` writes; this module alone knows the layout.

    keypoints CSV   image, face (0 = the largest), box_left, box_top, box_right, box_bottom (pixel edges),
                    score, then the 30 keypoint columns in the photo's pixels; a photo without a face
                    has one row with only its image filled in
    --draw DIR      each photo as PNG, with its boxes and keypoints drawn
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from common.files import write_atomically, write_csv_atomically
from data.keypoints import COLUMNS

from .photos import PhotoFace

BOX_COLUMNS = ["box_left", "box_top", "box_right", "box_bottom"]


def keypoint_rows(image: str, faces: list[PhotoFace]) -> list[dict]:
    """The CSV's rows for one photo."""
    if not faces:
        return [{"image": image}]
    return [{"image": image, "face": i, **dict(zip(BOX_COLUMNS, f.detection.box)), "score": f.detection.score,
             **dict(zip(COLUMNS, f.keypoints.tolist()))} for i, f in enumerate(faces)]


def write_keypoints(rows: list[dict], out: Path) -> Path:
    frame = pd.DataFrame(rows, columns=["image", "face", *BOX_COLUMNS, "score", *COLUMNS]).astype({"face": "Int64"})
    return write_csv_atomically(frame, out, float_format="%.2f")


def draw(photo: np.ndarray, faces: list[PhotoFace], origin: float, out: Path) -> Path:
    """The photo with each face's box (green) and keypoints (red dots), as PNG at `out`."""
    image = Image.fromarray(photo).convert("RGB")
    pen = ImageDraw.Draw(image)
    radius = max(1.5, max(image.size) / 250)
    for face in faces:
        pen.rectangle(face.detection.box, outline=(0, 220, 0), width=max(1, round(radius / 2)))
        points = face.keypoints.reshape(15, 2)
        for x, y in points[np.isfinite(points).all(axis=1)] - origin:  # label coordinates -> pixel indices, Pillow's drawing coordinates
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 40, 40))
    return write_atomically(out, lambda f: image.save(f, format="PNG"), binary=True)
