"""Face detectors for whole photos, by name: `register_detector`, `create_detector`.

Each finds faces in a grey photo and says where the face's keypoints sit in its boxes (`BoxFit`): that
relation belongs to the detector (Haar's boxes are tighter than HOG's), so each registered detector
carries its own, measured on faces15's training crops by `python -m bench.detectors --detectors NAME`.
Boxes are in pixel-edge coordinates: pixel column c spans [c, c + 1), so its centre is at c + 0.5.
Both install from PyPI with their models inside the package, so nothing downloads at run time: OpenCV
with the `photos` extra (the default detector), dlib with `pip install dlib-bin`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from common.errors import UserError


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # left, top, right, bottom: pixel edges in the photo
    score: float  # the detector's confidence (its own scale: dlib's SVM margin, Haar's neighbour count)

    @property
    def size(self) -> float:
        """The box's side (the mean of width and height), px."""
        return (self.box[2] - self.box[0] + self.box[3] - self.box[1]) / 2

    @property
    def centre(self) -> np.ndarray:
        """(2,) the box's centre, pixel edges."""
        left, top, right, bottom = self.box
        return np.array([(left + right) / 2, (top + bottom) / 2])


@dataclass(frozen=True)
class BoxFit:
    """Where a detector's box puts a face's keypoints: each of Kaggle's 15, in their order, at the box's
    centre plus (dx, dy) box sides (per keypoint, the median over the training crops it found). Per
    keypoint, so that a model that knows only some of them (MTFL's five) is placed by those alone."""

    offsets: tuple[tuple[float, float], ...]  # 15 (dx, dy), box sides from the box's centre

    def keypoints(self, detection: Detection) -> np.ndarray:
        """(15, 2) where the box says the keypoints are, pixel-edge coordinates of the photo."""
        return detection.centre + np.array(self.offsets) * detection.size


@dataclass(frozen=True)
class Detector:
    name: str
    find: Callable[[np.ndarray], list[Detection]]  # (H, W) uint8 grey photo -> its faces
    fit: BoxFit

    def faces(self, grey: np.ndarray) -> list[Detection]:
        """Its faces in a (H, W) uint8 photo, largest first. A photo over SEARCH_SIDE px is searched shrunk
        to that (a 12-megapixel phone photo takes seconds at full size, and its faces need no more
        pixels to be found), the boxes scaled back to the photo."""
        h, w = grey.shape
        shrink = max(h, w) / SEARCH_SIDE
        if shrink <= 1:
            found = self.find(grey)
        else:
            small = np.asarray(Image.fromarray(grey).resize((round(w / shrink), round(h / shrink)), Image.BOX))
            sx, sy = w / small.shape[1], h / small.shape[0]  # Pillow's resize keeps pixel edges aligned
            found = [Detection((d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy), d.score) for d in self.find(small)]
        return sorted(found, key=lambda d: -d.size)


SEARCH_SIDE = 1024  # px: the longest side a photo is searched for faces at
_BUILDERS: dict[str, Callable[[], Detector]] = {}
# On photos_val (bench/README.md): Haar found 99.1 % of the faces at 17.5 ms a photo, dlib's HOG 94.4 % at 16.3 ms
DEFAULT_DETECTOR = "opencv_haar"

# Each detector's keypoints in its boxes, Kaggle's order (ensemble.detect.BoxFit), measured on faces15's training
# crops by `python -m bench.detectors` (bench/results/detectors_per_keypoint.json): HOG's boxes sit lower on the face.
_DLIB_HOG_OFFSETS = (
    (0.2127, -0.1949), (-0.2007, -0.1975), (0.1329, -0.1913), (0.2903, -0.1987), (-0.1198, -0.1952),
    (-0.2797, -0.1992), (0.1265, -0.3339), (0.3796, -0.2993), (-0.1198, -0.3314), (-0.3744, -0.3035),
    (0.0161, 0.055), (0.1785, 0.2639), (-0.1574, 0.2637), (0.0129, 0.2129), (0.0173, 0.3516),
)
_OPENCV_HAAR_OFFSETS = (
    (0.1869, -0.1041), (-0.1828, -0.1012), (0.1142, -0.1022), (0.2551, -0.1093), (-0.1101, -0.0988),
    (-0.2511, -0.104), (0.1104, -0.2227), (0.3343, -0.204), (-0.1087, -0.2205), (-0.3369, -0.1978),
    (0.0123, 0.116), (0.1576, 0.2995), (-0.1451, 0.3018), (0.0084, 0.2553), (0.0101, 0.3757),
)


def register_detector(builder: Callable[[], Detector]) -> Callable[[], Detector]:
    """Decorator: the builder's name is the detector's name."""
    _BUILDERS[builder.__name__] = builder
    return builder


def detector_names() -> list[str]:
    return sorted(_BUILDERS)


@functools.cache  # a detector loads its model once, then serves every photo
def create_detector(name: str = DEFAULT_DETECTOR) -> Detector:
    if name not in _BUILDERS:
        raise UserError("--detector", f"unknown detector {name!r}; known: {', '.join(detector_names())}")
    return _BUILDERS[name]()


def _needs(module: str, install: str):
    try:
        return __import__(module)
    except ImportError:
        raise UserError("--detector", f"needs {module}: {install}") from None


@register_detector
def dlib_hog() -> Detector:
    """dlib's HOG + linear SVM frontal face detector (its model is compiled into dlib), with the photo
    upsampled once so that faces down to about 40 px are found."""
    dlib = _needs("dlib", "pip install dlib-bin")
    detector = dlib.get_frontal_face_detector()

    def find(grey: np.ndarray) -> list[Detection]:
        rects, scores, _ = detector.run(grey, 1, 0.0)
        # dlib's rectangles are inclusive pixel indices: right and bottom edges are one further
        return [Detection((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(s)) for r, s in zip(rects, scores)]

    return Detector("dlib_hog", find, BoxFit(_DLIB_HOG_OFFSETS))


@register_detector
def opencv_haar() -> Detector:
    """OpenCV's Viola-Jones cascade (haarcascade_frontalface_default.xml, in opencv-python-headless)."""
    cv2 = _needs("cv2", "pip install -e '.[photos]' (opencv-python-headless below 5: 5.x ships no cascades)")
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def find(grey: np.ndarray) -> list[Detection]:
        boxes, _, weights = cascade.detectMultiScale3(grey, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30), outputRejectLevels=True)
        return [Detection((x, y, x + w, y + h), float(s)) for (x, y, w, h), s in zip(np.reshape(boxes, (-1, 4)), np.ravel(weights))]

    return Detector("opencv_haar", find, BoxFit(_OPENCV_HAAR_OFFSETS))
