"""Image datasets from their standard local formats, plus an embedded default that needs no files.

No torchvision: its wheel breaks beside the CPU build of torch, and it would download data anyway. Image
decoding is shared with the auditor (auditor.data), which never imports torch.

Supported layouts under ``data_dir`` (each also accepted as ``data_dir`` itself):

* ``mnist/``: ``train-images-idx3-ubyte.gz`` / ``t10k-images-idx3-ubyte.gz`` and their label files (idx, gzip).
* ``fashion_mnist/``, ``cifar10/``: a folder or a ``.tar.gz`` holding ``<split>/<class>/<image>.(png|jpg)``.

When a dataset ships only its test split (as ``../shared/data`` does), a fixed stratified 80/20 split of it is
used for training and evaluation; ``Dataset.source`` says so.
"""

from __future__ import annotations

import gzip
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from auditor.data import (IMAGE_SUFFIXES, ImageReadError, decode_image, load_image,  # noqa: F401 (re-exported)
                          load_image_folder)

DATASETS = ("mnist", "fashion_mnist", "cifar10", "digits", "color-digits")

HELD_OUT_SHARE = 0.2
SPLIT_SEED = 0


class DataError(ValueError):
    """A dataset could not be found or read."""


@dataclass(frozen=True)
class Dataset:
    """Images as float32 NCHW in [0, 1] with integer labels."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, mask_or_index: np.ndarray) -> Dataset:
        return Dataset(self.name, self.images[mask_or_index], self.labels[mask_or_index], self.class_names,
                       self.source)


def load_dataset(name: str, split: str = "train", data_dir: str | Path | None = None,
                 limit: int | None = None, seed: int = 0) -> Dataset:
    """Loads ``split`` ("train" or "test") of dataset ``name``.

    ``digits`` and ``color-digits`` are generated in-process (see ``synthetic_digits``) and ignore ``data_dir``.
    ``limit`` keeps a stratified-by-order prefix after a seeded shuffle, for quick runs.
    """
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    if name == "digits":
        ds = synthetic_digits(3000 if split == "train" else 1000, seed=seed + (0 if split == "train" else 1))
    elif name == "color-digits":
        ds = synthetic_digits(3000 if split == "train" else 1000, seed=seed + (0 if split == "train" else 1),
                              colour=True, size=32)
    elif name == "mnist":
        ds = _load_mnist(_dataset_root(data_dir, name), split)
    elif name in ("fashion_mnist", "cifar10"):
        ds = _load_image_tree(_dataset_root(data_dir, name), name, split)
    else:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    if limit is not None and limit < len(ds):
        order = np.random.default_rng(seed).permutation(len(ds))[:limit]
        ds = ds.subset(np.sort(order))
    return ds


def _dataset_root(data_dir: str | Path | None, name: str) -> Path:
    if data_dir is None:
        raise DataError(f"dataset {name!r} needs --data-dir (a folder holding {name}/); "
                        "'digits' and 'color-digits' need none")
    root = Path(data_dir)
    return root / name if (root / name).exists() else root


def _stratified_split(labels: np.ndarray, split: str) -> np.ndarray:
    """Indices of a fixed 80/20 per-class split, used when only one split exists on disk."""
    rng = np.random.default_rng(SPLIT_SEED)
    keep = np.zeros(len(labels), dtype=bool)
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(len(idx) * HELD_OUT_SHARE))
        chosen = idx[:n_test] if split == "test" else idx[n_test:]
        keep[chosen] = True
    return np.flatnonzero(keep)


# ---- MNIST idx ---------------------------------------------------------------------------------------------

def read_idx(path: Path) -> np.ndarray:
    """Reads an idx file (optionally gzip-compressed) into a uint8 array, checking its header against its size."""
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte idx file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(raw) - offset != int(np.prod(dims)):
        raise DataError(f"{path}: header says {dims} but holds {len(raw) - offset} bytes")
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(dims)


def _find(root: Path, stem: str) -> Path | None:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.exists():
            return candidate
    return None


def _load_mnist(root: Path, split: str) -> Dataset:
    own = "train" if split == "train" else "t10k"
    images, labels = _find(root, f"{own}-images-idx3-ubyte"), _find(root, f"{own}-labels-idx1-ubyte")
    # Use the on-disk splits only when both exist; otherwise train and test would overlap.
    if _find(root, "train-images-idx3-ubyte") is not None and _find(root, "t10k-images-idx3-ubyte") is not None:
        x, y, source = read_idx(images), read_idx(labels), f"{images.name} ({split} split)"
        index = np.arange(len(x))
    else:
        images, labels = _find(root, "t10k-images-idx3-ubyte"), _find(root, "t10k-labels-idx1-ubyte")
        if images is None or labels is None:
            raise DataError(f"no MNIST idx files under {root}")
        x, y = read_idx(images), read_idx(labels)
        index = _stratified_split(y, split)
        source = f"{images.name}: fixed stratified {1 - HELD_OUT_SHARE:.0%}/{HELD_OUT_SHARE:.0%} split, {split} part"
    if len(x) != len(y):
        raise DataError(f"{root}: {len(x)} images but {len(y)} labels")
    x = x[index].astype(np.float32)[:, None] / 255.0
    return Dataset("mnist", x, y[index].astype(np.int64), tuple(str(i) for i in range(10)), source)


# ---- folders / archives of PNG and JPEG -------------------------------------------------------------------

def _iter_tree(root: Path):
    """Yields (relative parts, bytes) for image files in a folder or a .tar.gz, never extracting to disk."""
    archives = sorted(root.glob("*.tar.gz")) if root.is_dir() else [root]
    if root.is_dir() and not archives:
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                yield path.relative_to(root).parts, path.read_bytes()
        return
    for archive in archives:
        with tarfile.open(archive, "r:gz") as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                if member.isfile() and Path(member.name).suffix.lower() in IMAGE_SUFFIXES:
                    yield Path(member.name).parts, tar.extractfile(member).read()


def _load_image_tree(root: Path, name: str, split: str) -> Dataset:
    if not root.exists():
        raise DataError(f"no {name} data at {root}")
    by_split: dict[str, list[tuple[str, bytes, str]]] = {}
    for parts, data in _iter_tree(root):
        if len(parts) < 3:
            continue
        split_name = "test" if parts[-3] in ("test", "t10k") else "train" if parts[-3] == "train" else parts[-3]
        by_split.setdefault(split_name, []).append((parts[-2], data, "/".join(parts)))
    if not by_split:
        raise DataError(f"no <split>/<class>/<image> files under {root}")
    if split in by_split and len(by_split) > 1:
        records, split_here = by_split[split], False
    else:
        records, split_here = [r for rs in by_split.values() for r in rs], True
    class_names = tuple(sorted({r[0] for r in records}, key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c)))
    labels = np.array([class_names.index(r[0]) for r in records], dtype=np.int64)
    try:
        pixels = np.stack([decode_image(r[1], r[2]) for r in records])
    except ImageReadError as exc:
        raise DataError(str(exc)) from None
    images = (pixels[:, None] if pixels.ndim == 3 else pixels.transpose(0, 3, 1, 2)).astype(np.float32) / 255.0
    source = f"{root.name}: {split} split"
    if split_here:
        index = _stratified_split(labels, split)
        images, labels = images[index], labels[index]
        source = f"{root.name}: fixed stratified {1 - HELD_OUT_SHARE:.0%}/{HELD_OUT_SHARE:.0%} split, {split} part"
    return Dataset(name, images, labels, class_names, source)


# ---- embedded default --------------------------------------------------------------------------------------

# 5x7 bitmap glyphs of the digits 0-9, one string per row. Rendering these with random stroke width, affine
# jitter and blur gives an MNIST-like 10-class set with labels, from no file, no network and no extra package
# (scikit-learn's bundled 8x8 digits would add a heavy dependency and upscale blurrily to 28x28).
_GLYPHS = (
    ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    ("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
)


def synthetic_digits(n: int, *, seed: int = 0, size: int = 28, colour: bool = False) -> Dataset:
    """Renders ``n`` jittered digit glyphs (balanced classes); greyscale on black, or coloured on colour."""
    from skimage.filters import gaussian
    from skimage.morphology import dilation, disk
    from skimage.transform import AffineTransform, warp

    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    glyphs = [np.array([[c == "1" for c in row] for row in g], dtype=np.float32) for g in _GLYPHS]
    scale_up = 3  # 5x7 glyph -> 15x21 canvas patch before the affine jitter
    images = np.zeros((n, 3 if colour else 1, size, size), dtype=np.float32)
    for i, label in enumerate(labels):
        glyph = np.kron(glyphs[label], np.ones((scale_up, scale_up), dtype=np.float32))
        canvas = np.zeros((size, size), dtype=np.float32)
        top, left = (size - glyph.shape[0]) // 2, (size - glyph.shape[1]) // 2
        canvas[top:top + glyph.shape[0], left:left + glyph.shape[1]] = glyph
        if rng.random() < 0.5:
            canvas = dilation(canvas, disk(1))
        centre = np.array([size / 2, size / 2])
        tform = (AffineTransform(translation=-centre)
                 + AffineTransform(scale=rng.uniform(0.8, 1.1), rotation=rng.uniform(-0.25, 0.25),
                                   shear=rng.uniform(-0.2, 0.2))
                 + AffineTransform(translation=centre + rng.uniform(-2, 2, size=2)))
        canvas = gaussian(warp(canvas, tform.inverse, order=1), sigma=0.6)
        canvas = np.clip(canvas / max(canvas.max(), 1e-6), 0, 1).astype(np.float32)
        if colour:
            fg, bg = rng.uniform(0.5, 1.0, 3), rng.uniform(0.0, 0.4, 3)
            images[i] = bg[:, None, None] + (fg - bg)[:, None, None] * canvas[None]
        else:
            images[i, 0] = canvas
    name = "color-digits" if colour else "digits"
    return Dataset(name, images, labels.astype(np.int64), tuple(str(i) for i in range(10)),
                   f"embedded synthetic digits (seed {seed})")
