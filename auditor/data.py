"""Probe images: read from a user's folder, or made without any dataset by the autoencoder itself."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MAX_IMAGE_PIXELS = 4096 * 4096


class ImageReadError(ValueError):
    """An image or image folder cannot be read."""


def decode_image(data: bytes, what: str) -> np.ndarray:
    """Decodes PNG/JPEG bytes to uint8 HxW or HxWx3, refusing oversized (decompression-bomb) images."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise ImageReadError(f"{what}: {im.width}x{im.height} is too large")
            return np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
    except ImageReadError:
        raise
    except Exception as exc:  # Pillow raises many types for broken files
        raise ImageReadError(f"{what}: cannot decode image ({exc})") from None


def load_image(path: str | Path) -> np.ndarray:
    """Reads one PNG/JPEG as float32 CHW in [0, 1]."""
    arr = decode_image(Path(path).read_bytes(), str(path)).astype(np.float32) / 255.0
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def load_image_folder(path: str | Path, *, size: tuple[int, int] | None = None, channels: int | None = None,
                      limit: int = 256) -> np.ndarray:
    """Reads up to ``limit`` images from a folder (recursively, sorted) as float32 NCHW in [0, 1]."""
    root = Path(path)
    if not root.is_dir():
        raise ImageReadError(f"{root} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())[:limit]
    if not files:
        raise ImageReadError(f"no PNG/JPEG images under {root}")
    return load_images(files, size=size, channels=channels)


def load_images(files, *, size: tuple[int, int] | None = None, channels: int | None = None) -> np.ndarray:
    """Reads image files as float32 NCHW in [0, 1], converted to ``channels`` and resized to ``size``."""
    from skimage.transform import resize

    out = []
    for f in files:
        try:
            arr = load_image(f).transpose(1, 2, 0)
        except OSError as exc:
            raise ImageReadError(f"{f}: {exc.strerror or exc}") from None
        if channels == 1 and arr.shape[-1] == 3:
            arr = arr.mean(axis=-1, keepdims=True)
        elif channels == 3 and arr.shape[-1] == 1:
            arr = np.repeat(arr, 3, axis=-1)
        if size is not None and arr.shape[:2] != tuple(size):
            arr = resize(arr, size, anti_aliasing=True).astype(np.float32)
        out.append(arr.transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


def self_generated_images(reconstruct, shape: tuple[int, int, int], n: int, rng: np.random.Generator,
                          iterations: int = 0, oversample: int = 3) -> np.ndarray:
    """Probe images with no dataset: smooth noise pulled towards the autoencoder's own manifold.

    An autoencoder maps inputs near its training data onto that data, so x <- AE(x) from blurred noise moves
    towards images the model treats as in-distribution (a standard way to sample a denoising AE). Half the starts
    are dark and half light, so a trigger square differs from some backgrounds. A backdoored model may already
    fire on noise (measured: an inverse-target AE iterated from noise converges to inverted images), so
    ``oversample`` x ``n`` candidates are made and the ``n`` the model reconstructs most faithfully are kept:
    those it treats as clean inputs, on which a planted trigger then shows. That selection is the pull towards
    the manifold by default (``iterations`` = 0): on the fixtures' inverse-target AEs, iterating first left the
    patch scan unable to see the trigger (flip rate 0.00 after one iteration vs 0.95 without).
    """
    from skimage.filters import gaussian

    c, h, w = shape
    m = n * oversample
    x = rng.random((m, c, h, w)).astype(np.float32)
    x = np.stack([gaussian(img, sigma=max(h, w) / 16, channel_axis=0) for img in x]).astype(np.float32)
    x = (x - x.min(axis=(1, 2, 3), keepdims=True)) / np.ptp(x, axis=(1, 2, 3), keepdims=True).clip(1e-6)
    x[: m // 2] **= 3
    x[m // 2:] = 1 - x[m // 2:] ** 3
    for _ in range(iterations):
        x = reconstruct(x)
    error = ((reconstruct(x) - x) ** 2).mean(axis=(1, 2, 3))
    return x[np.argsort(error, kind="stable")[:n]]
