"""Faces in and out of the FFHQ frame that face restorers are trained on.

A similarity transform (rotation, uniform scale, shift) takes the five landmarks onto the FFHQ
512 template; the restored face goes back through its inverse, inside a mask eroded from the
frame's edge and feathered, with its colour matched to the original face so no patch shows.
"""

from __future__ import annotations

import cv2
import numpy as np

SIZE = 512
#: eye centres, nose tip, mouth corners (image-left first) in the 512x512 FFHQ crop
TEMPLATE = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043], [313.08905, 371.15118]], np.float32)
#: dlib's nose point is the base of the nose, a little below the tip the template marks
NOSE_BASE_OFFSET = np.array([0.0, 14.0], np.float32)


def similarity(landmarks: np.ndarray, size: int = SIZE, nose_is_base: bool = False) -> np.ndarray:
    """2x3 matrix from image pixels to the ``size`` template frame, fitted to the known points."""
    template = TEMPLATE.copy()
    if nose_is_base:
        template[2] += NOSE_BASE_OFFSET
    known = ~np.isnan(landmarks).any(axis=1)
    src, dst = landmarks[known].astype(np.float32), template[known] * (size / SIZE)
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if matrix is None:  # degenerate points: the eyes alone decide
        matrix, _ = cv2.estimateAffinePartial2D(src[:2], dst[:2])
    return matrix


def scale_of(matrix: np.ndarray) -> float:
    """How much the transform enlarges: > 1 means the face is smaller than the template."""
    return float(np.hypot(matrix[0, 0], matrix[1, 0]))


def align(image: np.ndarray, matrix: np.ndarray, size: int = SIZE) -> np.ndarray:
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def face_mask(size: int = SIZE) -> np.ndarray:
    """1 over the face, falling smoothly to 0 well inside the crop's edge."""
    mask = np.zeros((size, size), np.float32)
    border = size // 16
    mask[border:-border, border:-border] = 1.0
    return cv2.GaussianBlur(mask, (0, 0), size / 24)


def match_colour(restored: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Restored face with the original's mean and spread per Lab channel (over the mask)."""
    weights = mask[..., None] > 0.5
    if weights.sum() < 16:
        return restored
    lab_r = cv2.cvtColor(np.clip(restored, 0, 1), cv2.COLOR_RGB2LAB)
    lab_o = cv2.cvtColor(np.clip(original, 0, 1), cv2.COLOR_RGB2LAB)
    pick = weights[..., 0]
    for channel in range(3):
        r, o = lab_r[..., channel][pick], lab_o[..., channel][pick]
        lab_r[..., channel] = (lab_r[..., channel] - r.mean()) * (o.std() / max(r.std(), 1e-6)) + o.mean()
    return np.clip(cv2.cvtColor(lab_r, cv2.COLOR_LAB2RGB), 0, 1)


def paste(image: np.ndarray, restored: np.ndarray, matrix: np.ndarray, amount: float) -> np.ndarray:
    """``image`` with ``restored`` (template frame) blended back in by ``amount`` (0-1)."""
    height, width = image.shape[:2]
    size = restored.shape[0]
    inverse = cv2.invertAffineTransform(matrix)  # matrix maps the image into this ``size`` frame
    back = cv2.warpAffine(restored, inverse, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    weight = cv2.warpAffine(face_mask(size), inverse, (width, height), flags=cv2.INTER_LINEAR, borderValue=0)[..., None] * amount
    return image * (1 - weight) + back * weight
