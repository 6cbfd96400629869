"""Evidence images: small PNG grids embedded in reports as data URIs (no files are written)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

MAX_SIDE = 1024


def grid_data_uri(rows: list[np.ndarray], scale: int | None = None) -> str:
    """One grid row per NCHW batch in ``rows`` (values in [0, 1]), as a PNG data URI."""
    if not rows:
        raise ValueError("need at least one row of images")
    n = max(len(r) for r in rows)
    c, h, w = rows[0].shape[1:]
    canvas = np.ones((len(rows) * (h + 1), n * (w + 1), 3), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            tile = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img[:3]
            canvas[i * (h + 1):i * (h + 1) + h, j * (w + 1):j * (w + 1) + w] = tile.transpose(1, 2, 0)
    pixels = (np.clip(canvas, 0, 1) * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels)
    scale = scale or max(1, min(4, MAX_SIDE // max(image.size)))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
