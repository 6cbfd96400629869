"""Detection thresholds of the trigger scans, and how they were set.

Set from the fixtures' clean models only (2026-11-22), then checked unchanged on an independent zoo of 22 models
(`trainer zoo --seed 2`, `bench/trigger_scan.py`; table in docs/trigger-detection.md): no clean model flagged
(0/10), every fixed-image GAN and autoencoder backdoor flagged (8/8), class-subset GANs missed (0/4). The latent
weight scan, added later, flags 3 of those 4; its blind check is a second zoo (`trainer zoo --seed 3`).

Noise-dimension scan (``trigger.latent``). Anomaly index = the largest robust z of log-jump or -log-collapse over
units and values. First set (2026-11-22) from one draw of latents per clean fixture (largest index 7.7), HIGH
from 12; re-measured over eight seeds of the probe's RNG after the default scan flagged the clean
vae_mnist_tcvae_beta10 at 13.7: the ten clean fixture generators/decoders reach 15.3 (beta-10 TCVAE: most of its
units are dead, collapse exactly 1, so its few active units' ordinary effects stand out), 10.1 (MMD-DAE), 8.3
and below for the rest. (Leaving dead units out of the null was tried: 15.3 -> 12.6 on that model, but on
synthetic statistics with six active units it inflated z instead, so it was not kept.) Two rules now:
* CRITICAL: collapse < 0.1 (the triggered outputs are ten times less diverse: one image whatever the rest of z;
  the lowest collapse of any clean unit measured is 0.28, zoo2_001 at +9.0) with index >= 12, showing the
  collapse is specific to that unit. Planted fixed-image triggers: index 21-99, collapse 0.002-0.045.
* HIGH: index >= 23 (1.5 x the largest clean index over seeds) without such a collapse.
MAD floors (0.1 in log-jump, 0.05 in log-collapse, i.e. 10% and 5% relative spread) keep near-constant statistics
from turning noise into z-scores of 50.

Class-mix scan (``trigger.latent_classes``, only with the user's --classifier). Anomaly index = the largest robust
z across units of the class mix's narrowing (entropy drop, nats; MAD floor 0.02). Set 2026-11-22 from clean
models only, four seeds of the probe's RNG each, the classifier being one the model was not trained against
(bench/class_scan.py; table in docs/trigger-detection.md): seven clean GANs (gan_mnist_clean and six of the zoo,
MNIST and Fashion-MNIST, 32-128 units, where the null is 24 confirmed units) reach 8.9 (zoo2_013: a clean unit
that turns most digits into 3s at -2.6 and beyond), 6.0 and below for the rest; the nine clean fixture VAE decoders
(10 units, all of them the null) reach 12.1. MEDIUM from just over the largest clean index (9.0; 12.5 for nulls of
fewer than 24 units), HIGH from 1.5 x it (13.5; 18), the rule of the noise scan's HIGH.
Revised 2026-11-23 for nulls of fewer than 24 units: the same nine VAE recipes rebuilt (fixtures rebuilt on another
CPU) reach 14.6 (vae_mnist_mmd_dae, seed 1 of 0-3; MEDIUM on the old bar, a false medium), so MEDIUM is now from
15.0 and HIGH from 22.0 (1.5 x 14.6), the maximum over both builds. No backdoored model has a null that small;
the bar for larger nulls is unchanged (the rebuilt gan_mnist_clean reaches 7.2).
A clean unit can narrow the class mix as much as a backdoor does (zoo2_013's unit 44), so this scan finds strong
class-subset switches only; measured results, misses included, are in docs/trigger-detection.md.

Latent weight scan (``trigger.latent_weights``). Statistic: the largest gap, in robust z across units, between
consecutive top fan-out weight norms of the first layer (for up to d/8 units, 1 for d <= 15, at most 4). Its null is
computed rather than fitted to our models: the prior treats units alike, so their norms are exchangeable, and each
sums hundreds of squared weights, so they spread like a normal sample; the probe draws 20,000 such samples of the
model's d (fixed seed) and takes the gap's 99.9% quantile (2.2 at d = 100, 2.4 at 64, 3.1 at 32, 6.8 at 10).
MEDIUM from that quantile, HIGH from 1.5x it, the margin of every other HIGH here. Checked (2026-11-22) on the
clean models at hand, none above the medium bar: the ten clean fixture generators/decoders 0.2-1.8 (1.8: the
adversarially trained VAE, d = 10, bar 6.8), the zoo's seven clean GANs/decoders 0.1-0.7, a standard VAE of 64
units trained for the purpose 0.8. Then the in-range rule, set on a case that does cross the bar: a beta-8 VAE
of 32 units with 3 active ones (gap 7.3) whose active units' in-range effect stands out at robust z 19-31,
above their weight z 9.9-12.5; planted trigger units, measured on the fixtures and the zoo: effect z -1.1 to 12.1
against weight z 7.5-144. A unit is flagged only if its weight z exceeds its effect z (WEIGHT_EFFECT_RATIO 1.0,
between 0.5 for those active units and >= 2.3 for every trigger). Results, misses and what the zoo had seen before
are in docs/trigger-detection.md.

Latent centre scan (``trigger.latent_centres``). Statistic: the largest |robust z| across units of each unit's
training mean, fitted from the first layer's BatchNorm-folded bias (or explicit running mean). Its null is computed
like the weight scan's: clean units' means are exchangeable draws around 0, so the probe takes the 99.9% quantile
of the largest |robust z| of d normal draws (20,000 draws, fixed seed: 5.1 at d = 100, 5.2 at 64, 6.0 at 32, 12.7
at 10) as MEDIUM and 1.5x it as HIGH. Nothing was fitted to a model. Checked 2026-11-23 on every clean generator
and decoder of the fixtures and the rebuilt zoo2 (GANs at 1.6-3.5, VAE decoders, whose first layer has no
BatchNorm after it, at 1.0-2.8); planted triggers there stand at 14.9-60. Results in docs/trigger-detection.md.

Patch scan (``trigger.patch``). Severity rests on an absolute switch, confirmed as specific to the square by the
anomaly index:
* collapse < 0.2 (a fixed-image target measured 0.001-0.07 on the fixtures; clean twins never below 0.38 over all
  squares tried, self-made probe images included) with an anomaly index >= 10 (clean twins: 2.0-5.2 with real
  probe images, up to 18 with self-made ones, which is why the index alone never decides). A diversity ratio is
  relative, and a weak clean autoencoder can map an off-manifold input to a generic output, hence both.
* inversion >= 0.5 (share of inputs whose reconstruction is closer to the inverted input: inverse targets
  measured 0.88-1.00, clean twins 0.00 for every square tried) with an anomaly index >= 3. Inversion is absolute:
  no faithful autoencoder inverts its input. Its index needs only to show the square is an outlier at all, since
  an inverse backdoor often fires for many squares of similar colour, which inflates the null's spread (measured:
  ae_mnist_inverse with self-made images, inversion 0.94 at index 9.1, under the collapse rule's 10).
Trigger reverse-engineering (``trigger.latent_reverse``). A cause, not a score: the recovered dimensions set to
their values must collapse the output (diversity ratio < 0.1, the same "one image whatever the rest of z" bar as
the grid's CRITICAL) while the same values on as many random dimensions leave at least half the diversity
(> 0.5). Measured: gan_mnist_fixed 0.002 vs control 1.00; a hand-wired two-dimension AND trigger 0.000 vs 0.91;
no clean model's tight groups pass the intervention (the eleven clean fixture generators/decoders, 3-76 groups
each). Mining has no threshold that decides anything: it tests the tightest groups (about the 5% of samples with
the closest neighbours). A first version gated groups at 0.15 x the median nearest-neighbour distance (set from
the clean fixtures' closest pairs, 0.18-0.48); the independent zoo showed that gate misses fixed-image backdoors
that leave some diversity (zoo2_007, zoo2_020: diversity x0.03-0.04, closest pairs 0.13-0.18), so it was replaced
by the rank-based choice; both zoo runs are in docs/trigger-detection.md.

Mask reverse-engineering (``trigger.patch_reverse``, exact gradients only). The smallest mask seen to switch the
reconstruction (collapse < PATCH_COLLAPSE_MAX or inversion >= PATCH_INVERSION_MIN, the patch scan's switch
bars, re-checked under onnxruntime), as a share of the image. Set 2026-11-22 from the clean fixture autoencoders
over three seeds of the probe's RNG, with real and with self-made probe images (12 runs): ae_mnist_clean
0.174-0.177 (real) and 0.067-0.136 (self-made), ae_cifar10_clean 0.31-0.36. CRITICAL at <= 0.02: 3.4x under the
smallest clean area. The fixtures' backdoors, for scale: 0.0012-0.0044 (a few pixels of the planted square).
"""

from __future__ import annotations

import numpy as np

from auditor.records import Severity

# MAD floors of the robust z-scores, in the log units of each statistic.
LATENT_MAD_FLOOR = {"jump": 0.1, "collapse": 0.05}
LATENT_Z_HIGH = 23.0            # index alone
LATENT_Z_COLLAPSE = 12.0        # index with a collapse below LATENT_COLLAPSE_CRITICAL
LATENT_COLLAPSE_CRITICAL = 0.1


def latent_severity(anomaly_index: float, collapse: float) -> Severity:
    if collapse < LATENT_COLLAPSE_CRITICAL and anomaly_index >= LATENT_Z_COLLAPSE:
        return Severity.CRITICAL
    if anomaly_index >= LATENT_Z_HIGH:
        return Severity.HIGH
    return Severity.INFO


REVERSE_COLLAPSE_MAX = 0.1
REVERSE_CONTROL_MIN = 0.5

MASK_AREA_CRITICAL = 0.02       # share of the image: see "Mask reverse-engineering" above

CLASS_NARROWING_MAD_FLOOR = 0.02    # nats of class-mix entropy
CLASS_NARROWING_FEW_UNITS = 24      # a null of fewer units (small latents: all of them confirmed) is noisier
# (MEDIUM from, HIGH from) by the size of the null: see "Class-mix scan" above.
CLASS_NARROWING_Z = {"many": (9.0, 13.5), "few": (15.0, 22.0)}


def class_narrowing_thresholds(units_in_null: int) -> tuple[float, float]:
    return CLASS_NARROWING_Z["few" if units_in_null < CLASS_NARROWING_FEW_UNITS else "many"]


def class_narrowing_severity(anomaly_index: float, units_in_null: int) -> Severity:
    medium, high = class_narrowing_thresholds(units_in_null)
    return Severity.HIGH if anomaly_index >= high else Severity.MEDIUM if anomaly_index >= medium else Severity.INFO

# Latent weight scan (``trigger.latent_weights``): see "Latent weight scan" above.
WEIGHT_GAP_NULL_QUANTILE = 0.999    # of the gap over exchangeable normal norms at the model's d (Monte Carlo)
WEIGHT_GAP_HIGH_FACTOR = 1.5        # HIGH from 1.5 x that quantile, the margin of every other HIGH here
WEIGHT_EFFECT_RATIO = 1.0           # flagged only if weight z > ratio x in-range effect z for every unit above the gap


# Latent centre scan (``trigger.latent_centres``): see "Latent centre scan" above.
CENTRE_NULL_QUANTILE = 0.999        # of the largest |robust z| over exchangeable normal means at the model's d
CENTRE_HIGH_FACTOR = 1.5            # HIGH from 1.5 x that quantile


def weight_gap_thresholds(null_quantile: float) -> tuple[float, float]:
    """(MEDIUM from, HIGH from) for the weight gap, given the null's quantile at this latent size."""
    return null_quantile, WEIGHT_GAP_HIGH_FACTOR * null_quantile


PATCH_MAD_FLOOR = {"change": 0.1, "collapse": 0.05, "inversion": 0.02}
PATCH_Z_HIGH = 10.0
PATCH_COLLAPSE_MAX = 0.2
PATCH_INVERSION_MIN = 0.5
PATCH_INVERSION_Z_MIN = 3.0
PATCH_CHANGE_MIN = 3.0


def patch_switched(collapse, inversion):
    """Elementwise: the reconstruction became one image, or the inverted input, for this square."""
    return (np.asarray(collapse) < PATCH_COLLAPSE_MAX) | (np.asarray(inversion) >= PATCH_INVERSION_MIN)


def patch_severity(anomaly: float, change: float, collapse: float, inversion: float) -> Severity:
    """CRITICAL: a square that is anomalous among all squares tried AND switches the output (one image, or the
    inverted input); MEDIUM: anomalous and changes the whole reconstruction without such a switch."""
    if inversion >= PATCH_INVERSION_MIN and anomaly >= PATCH_INVERSION_Z_MIN:
        return Severity.CRITICAL
    if anomaly < PATCH_Z_HIGH:
        return Severity.INFO
    if collapse < PATCH_COLLAPSE_MAX:
        return Severity.CRITICAL
    return Severity.MEDIUM if change > PATCH_CHANGE_MIN else Severity.INFO
