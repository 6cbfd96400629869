"""The probe registry: an explicit tuple, in the order probes run (inversion last: it inverts the outputs of
triggers the earlier probes flagged)."""

from __future__ import annotations

from auditor.probes.base import Probe, ProbeContext
from auditor.probes.inversion import GeneratorInversionProbe
from auditor.probes.latent_pgd import LatentPGDProbe
from auditor.probes.trigger_centres import LatentCentreProbe
from auditor.probes.trigger_classes import LatentClassShiftProbe
from auditor.probes.trigger_latent import LatentTriggerProbe
from auditor.probes.trigger_mask import PatchTriggerReverseProbe
from auditor.probes.trigger_patch import PatchTriggerProbe
from auditor.probes.trigger_reverse import LatentTriggerReverseProbe
from auditor.probes.trigger_weights import LatentWeightProbe

REGISTRY: tuple[type[Probe], ...] = (LatentWeightProbe, LatentCentreProbe, LatentTriggerProbe,
                                     LatentClassShiftProbe, LatentTriggerReverseProbe, PatchTriggerProbe,
                                     PatchTriggerReverseProbe, LatentPGDProbe, GeneratorInversionProbe)

__all__ = ["REGISTRY", "Probe", "ProbeContext", "get"]


def get(name: str) -> type[Probe]:
    for probe in REGISTRY:
        if probe.name == name:
            return probe
    raise KeyError(name)
