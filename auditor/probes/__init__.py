"""The probe registry: an explicit tuple, in the order probes run.

The behavioural probes (trigger scans, latent PGD robustness, inversion) plug in here as they land.
"""

from __future__ import annotations

from auditor.probes.base import Probe, ProbeContext

REGISTRY: tuple[type[Probe], ...] = ()

__all__ = ["REGISTRY", "Probe", "ProbeContext", "get"]


def get(name: str) -> type[Probe]:
    for probe in REGISTRY:
        if probe.name == name:
            return probe
    raise KeyError(name)
