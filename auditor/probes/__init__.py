"""The probe registry: an explicit tuple, in the order probes run.

Trigger scans and generator inversion plug in here as they land.
"""

from __future__ import annotations

from auditor.probes.base import Probe, ProbeContext
from auditor.probes.latent_pgd import LatentPGDProbe

REGISTRY: tuple[type[Probe], ...] = (LatentPGDProbe,)

__all__ = ["REGISTRY", "Probe", "ProbeContext", "get"]


def get(name: str) -> type[Probe]:
    for probe in REGISTRY:
        if probe.name == name:
            return probe
    raise KeyError(name)
