"""What a probe is: one class that declares what it needs and returns a ``ProbeResult``.

A probe never prints, writes files or reads global state. Everything it needs arrives in ``ProbeContext``
(seeded RNG, query budget, images for autoencoders, a progress callback); everything it produces leaves in
the result. Errors are not its business: the runner catches them.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from auditor.loading import AuditModel
from auditor.loading.classifier import DomainClassifier
from auditor.records import ModelKind, ProbeResult

# How much evidence a preset asks each probe to gather (latents, probe images), beside the row budget.
SAMPLE_SCALE = {"quick": 0.5, "default": 1.0, "thorough": 2.0}


def scaled_count(count: int, preset: str, minimum: int = 2) -> int:
    return max(minimum, round(count * SAMPLE_SCALE[preset]))


SCREEN_MIN, CONFIRM_MIN = 4, 8


def fit_sample_counts(params, preset: str, max_rows: int, planned: Callable[[object], int], screen: str,
                      confirm: str):
    """A screen-then-confirm probe's parameters (a dataclass) with its two sample-count fields scaled by the preset,
    then halved, confirm first, while ``planned(params)`` rows exceed ``max_rows`` (never below 4 / 8)."""
    p = dataclasses.replace(params, **{screen: scaled_count(getattr(params, screen), preset, SCREEN_MIN),
                                       confirm: scaled_count(getattr(params, confirm), preset, CONFIRM_MIN)})
    for field_name, minimum in ((confirm, CONFIRM_MIN), (screen, SCREEN_MIN)):
        while planned(p) > max_rows and getattr(p, field_name) > minimum:
            p = dataclasses.replace(p, **{field_name: max(minimum, getattr(p, field_name) // 2)})
    return p


@dataclass(frozen=True)
class ProbeContext:
    rng: np.random.Generator
    max_rows: int                                  # query budget: forward rows this probe may spend
    images: np.ndarray | None = None               # NCHW [0, 1] probe images (autoencoders)
    images_source: str = ""                        # where they came from, for the report
    preset: str = "default"                        # "quick" | "default" | "thorough"
    gradient_mode: str = "query"                   # "query" | "exact" | "auto" (auditor.gradients.make_oracle)
    latents: np.ndarray | None = None              # user latents (--latents, or --encoder over --data)
    latents_source: str = ""
    forbidden: np.ndarray | None = None            # NCHW [0, 1] images the generator must not emit (--forbidden)
    forbidden_source: str = ""
    earlier: tuple[ProbeResult, ...] = ()          # results of the probes that ran before this one
    attack_target: np.ndarray | None = None        # [1, C, H, W] in [0, 1]: --pgd-target IMAGE
    classifier: DomainClassifier | None = None     # --classifier: the user's classifier of the model's domain
    progress: Callable[[int, int], None] = field(default=lambda done, total: None)  # (done, total) units


class Probe(ABC):
    """First docstring line is the one-line description `auditor probes` shows."""

    name: ClassVar[str]                            # stable id: "trigger.latent"
    applies_to: ClassVar[frozenset[ModelKind]]
    description: ClassVar[str] = ""

    def applies(self, model: AuditModel) -> str | None:
        """None when the probe can run on ``model``; else the reason it is skipped."""
        if model.info.kind not in self.applies_to:
            kinds = ", ".join(sorted(k.value for k in self.applies_to))
            return f"applies to {kinds}, not {model.info.kind.value}"
        return None

    @classmethod
    def from_config(cls, config) -> Probe:
        """The probe as the user's options (an ``AuditConfig``) configure it; most probes take none."""
        return cls()

    @abstractmethod
    def run(self, model: AuditModel, ctx: ProbeContext) -> ProbeResult:
        """Runs the probe; the runner fills in timing and row counts."""

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip().splitlines()
        return doc[0] if doc else cls.name
