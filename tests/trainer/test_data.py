"""Dataset readers: idx files, image folders and archives, the embedded digits, and their error paths."""

from __future__ import annotations

import gzip
import io
import tarfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from trainer.data import (DataError, _stratified_split, load_dataset, read_idx,
                          synthetic_digits)


def _write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


class TestIdx:
    def test_round_trip(self, tmp_path):
        """An idx file written with a known header reads back exactly."""
        data = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
        _write_idx(tmp_path / "x.gz", data)
        np.testing.assert_array_equal(read_idx(tmp_path / "x.gz"), data)

    def test_truncated_file_is_rejected(self, tmp_path):
        """A header that promises more bytes than the file holds is an error, not a short array."""
        data = np.zeros((4, 5), dtype=np.uint8)
        header = bytes([0, 0, 8, 2]) + (10).to_bytes(4, "big") + (5).to_bytes(4, "big")
        (tmp_path / "bad").write_bytes(header + data.tobytes())
        with pytest.raises(DataError, match="header says"):
            read_idx(tmp_path / "bad")

    def test_mnist_without_train_file_splits_test_set(self, tmp_path):
        """With only t10k files the train and test parts are disjoint and together cover the set."""
        rng = np.random.default_rng(0)
        images = rng.integers(0, 255, (100, 28, 28), dtype=np.uint8)
        labels = np.repeat(np.arange(10), 10).astype(np.uint8)
        (tmp_path / "mnist").mkdir()
        _write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz", images)
        _write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz", labels)
        train = load_dataset("mnist", "train", tmp_path)
        test = load_dataset("mnist", "test", tmp_path)
        assert len(train) == 80 and len(test) == 20
        assert train.images.shape[1:] == (1, 28, 28) and train.images.max() <= 1.0
        assert np.bincount(test.labels).tolist() == [2] * 10
        assert "split" in train.source


class TestImageTree:
    def test_tar_archive_with_class_folders(self, tmp_path):
        """A .tar.gz of test/<class>/<n>.png reads with labels from folder names in sorted order."""
        root = tmp_path / "cifar10"
        root.mkdir()
        with tarfile.open(root / "imgs.tar.gz", "w:gz") as tar:
            for cls in ("cat", "airplane"):
                for k in range(5):
                    data = _png_bytes(np.full((32, 32, 3), 40 * k, dtype=np.uint8))
                    info = tarfile.TarInfo(f"test/{cls}/{k}.png")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        ds = load_dataset("cifar10", "test", tmp_path)
        assert ds.class_names == ("airplane", "cat")
        assert ds.images.shape[1:] == (3, 32, 32)
        assert len(ds) == 2  # 20% of 10

    def test_broken_image_names_the_file(self, tmp_path):
        """An undecodable image fails with its path in the message."""
        folder = tmp_path / "fashion_mnist" / "test" / "3"
        folder.mkdir(parents=True)
        (folder / "0.png").write_bytes(b"not a png")
        with pytest.raises(DataError, match="0.png"):
            load_dataset("fashion_mnist", "train", tmp_path)

    def test_missing_data_dir_is_a_clear_error(self):
        """Real datasets need --data-dir; the message says so."""
        with pytest.raises(DataError, match="--data-dir"):
            load_dataset("mnist", "train", None)



class TestSyntheticDigits:
    def test_deterministic_and_balanced(self):
        """The same seed gives the same images; classes are balanced."""
        a, b = synthetic_digits(50, seed=3), synthetic_digits(50, seed=3)
        np.testing.assert_array_equal(a.images, b.images)
        assert np.bincount(a.labels).tolist() == [5] * 10
        assert a.images.min() >= 0 and a.images.max() <= 1

    def test_colour_variant(self):
        """The colour variant is 3x32x32."""
        assert synthetic_digits(10, colour=True, size=32).images.shape == (10, 3, 32, 32)

    def test_classes_differ(self):
        """Different digits render differently on average (the set carries class information)."""
        ds = synthetic_digits(200, seed=0)
        means = np.stack([ds.images[ds.labels == c].mean(0) for c in range(10)])
        distances = np.abs(means[:, None] - means[None]).mean(axis=(2, 3, 4))
        assert distances[~np.eye(10, dtype=bool)].min() > 0.01


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=5, max_size=200))
def test_split_is_a_partition(labels):
    """The fixed stratified split puts every index in exactly one part."""
    labels = np.array(labels)
    train, test = _stratified_split(labels, "train"), _stratified_split(labels, "test")
    assert len(np.intersect1d(train, test)) == 0
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(labels)))
