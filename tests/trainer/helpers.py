"""Small datasets for quick training tests (embedded digits, no files)."""

from __future__ import annotations

from functools import lru_cache

from trainer.data import Dataset, load_dataset


@lru_cache(maxsize=None)
def digits(split: str, limit: int) -> Dataset:
    return load_dataset("digits", split, limit=limit)
