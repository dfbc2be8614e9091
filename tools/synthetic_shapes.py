"""Seeded synthetic detection scenes for tools/train_synthetic.py: coloured shapes on noisy backgrounds.

Four classes, each drawn as a polygon (filled or outlined) so that its box is the polygon's bounds:
    0 rectangle (rotated), 1 ellipse (rotated), 2 triangle, 3 cross (a plus sign, rotated).
Backgrounds are a random colour with a low-frequency gradient, per-pixel noise and a few thin
distractor lines. Objects may overlap (box IoU below MAX_OVERLAP), so none is hidden.
Every scene is a pure function of (seed, width, height): the same seed gives the same pixels.
"""

from __future__ import annotations

import math

import numpy as np

CLASSES = ["rectangle", "ellipse", "triangle", "cross"]
MAX_OVERLAP = 0.3  # box IoU above which a new object is re-drawn elsewhere
MIN_CONTRAST = 90.0  # L2 distance (0..441) between an object's colour and the background's mean


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _rotate(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def _polygon(cls: int, size: float, rng: np.random.Generator) -> np.ndarray:
    """Polygon of class `cls`, centred at 0, about `size` across, as float (K, 2) x/y."""
    r = size / 2
    angle = rng.uniform(0, math.pi)
    if cls == 0:  # rectangle
        w, h = r, r * rng.uniform(0.4, 1.0)
        pts = np.array([[-w, -h], [w, -h], [w, h], [-w, h]])
        return _rotate(pts, angle if rng.random() < 0.5 else 0.0)
    if cls == 1:  # ellipse
        t = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        pts = np.stack([r * np.cos(t), r * rng.uniform(0.5, 1.0) * np.sin(t)], axis=1)
        return _rotate(pts, angle)
    if cls == 2:  # triangle: three vertices spread around the centre
        base = rng.uniform(0, 2 * math.pi)
        t = base + np.array([0.0, 2.1, 4.2]) + rng.uniform(-0.35, 0.35, 3)
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    a, b = r, r * rng.uniform(0.25, 0.4)  # cross: arm half-length and half-width
    pts = np.array([[-b, -a], [b, -a], [b, -b], [a, -b], [a, b], [b, b], [b, a], [-b, a], [-b, b], [-a, b], [-a, -b], [-b, -b]])
    return _rotate(pts, angle)


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    import cv2

    base = rng.uniform(30, 225, 3)
    gx, gy = rng.uniform(-60, 60, (2, 3))
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :, None]
    ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None, None]
    img = base + gx * xs + gy * ys
    # Low-frequency blotches: coarse noise upsampled.
    coarse = rng.normal(0, rng.uniform(5, 25), (max(2, h // 64), max(2, w // 64), 3)).astype(np.float32)
    img = img + cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img = img + rng.normal(0, rng.uniform(2, 14), (h, w, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 6))):  # thin distractor lines
        p = rng.integers(0, [w, h, w, h])
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.line(img, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), colour, 1, cv2.LINE_AA)
    return img


def scene(seed: int, w: int, h: int, size_range: tuple[float, float] = (0.08, 0.45), max_objects: int = 8):
    """(BGR uint8 image, [(class, x0, y0, x1, y1)] in pixels) for `seed`; sizes relative to min(w, h)."""
    import cv2

    rng = np.random.default_rng(seed)
    img = _background(rng, w, h)
    mean = img.reshape(-1, 3).mean(axis=0)
    boxes: list[tuple[int, float, float, float, float]] = []
    side = min(w, h)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        for _attempt in range(20):
            cls = int(rng.integers(0, len(CLASSES)))
            size = side * rng.uniform(*size_range)
            pts = _polygon(cls, size, rng)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            cx = rng.uniform(-lo[0], w - hi[0]) if w - hi[0] > -lo[0] else w / 2
            cy = rng.uniform(-lo[1], h - hi[1]) if h - hi[1] > -lo[1] else h / 2
            pts = pts + [cx, cy]
            box = (*np.clip(pts.min(axis=0), 0, [w, h]), *np.clip(pts.max(axis=0), 0, [w, h]))
            if box[2] - box[0] < 6 or box[3] - box[1] < 6:
                continue
            if any(_iou(box, b[1:]) > MAX_OVERLAP for b in boxes):
                continue
            colour = rng.integers(0, 256, 3).astype(np.float64)
            while np.linalg.norm(colour - mean) < MIN_CONTRAST:
                colour = rng.integers(0, 256, 3).astype(np.float64)
            poly = np.round(pts * 16).astype(np.int32)  # 4 fractional bits
            c = tuple(int(v) for v in colour)
            if rng.random() < 0.7:
                cv2.fillPoly(img, [poly], c, cv2.LINE_AA, shift=4)
            else:
                thickness = max(2, int(size * rng.uniform(0.05, 0.12)))
                cv2.polylines(img, [poly], True, c, thickness, cv2.LINE_AA, shift=4)
                half = thickness / 2  # the stroke reaches half its width outside the polygon
                box = (max(0.0, box[0] - half), max(0.0, box[1] - half), min(w, box[2] + half), min(h, box[3] + half))
            boxes.append((cls, *(float(v) for v in box)))
            break
    return img, boxes


def yolo_label(boxes, w: int, h: int) -> str:
    """YOLO-format label text: one 'class cx cy w h' line (normalized) per box."""
    lines = []
    for cls, x0, y0, x1, y1 in boxes:
        lines.append(f"{cls} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}")
    return "\n".join(lines) + ("\n" if lines else "")
