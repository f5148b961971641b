"""Relaxation parameters at 3 T and the MR signal equations used to simulate contrasts.

Values (T1, T2 in ms; PD as water fraction):

- white and grey matter: Stanisz et al., "T1, T2 relaxation and magnetization transfer in tissue
  at 3T", Magn Reson Med 54:507-512, 2005 (WM T1 1084 +- 45, T2 69 +- 3; GM T1 1820 +- 114,
  T2 99 +- 7).
- CSF: T1 about 4.4 s at 3 T (Rooney et al., Magn Reson Med 57:308-318, 2007); T2 about 2 s
  (reported values at 3 T span roughly 0.8-2.5 s depending on the method; Spijkerman et al.,
  MAGMA 31:415-424, 2018).
- proton density as water content: WM about 0.69, GM about 0.80, CSF 1.0 (Tofts, Quantitative MRI
  of the Brain, Wiley 2003, ch. 4).
- tumour compartments (approximate, from glioma relaxometry reviews: oedema and necrosis have long
  T1 and T2; the enhancing rim's T1 shortens with gadolinium): chosen within published ranges, not
  a single source. Gadolinium: 1/T1_post = 1/T1 + r1 C with r1 about 3.3 /s/mM for gadopentetate at
  3 T (Rohrer et al., Invest Radiol 40:715-724, 2005).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

__all__ = [
    "Tissue",
    "Sequence",
    "TISSUES",
    "SEQUENCES",
    "GADOLINIUM_R1",
    "signal",
    "with_gadolinium",
]


@dataclass(frozen=True)
class Tissue:
    """Relaxation parameters of one tissue: ``t1`` and ``t2`` in ms, ``pd`` relative proton density."""

    t1: float
    t2: float
    pd: float


@dataclass(frozen=True)
class Sequence:
    """An acquisition: ``kind`` is ``"se"`` (spin echo), ``"ir"`` (inversion recovery, magnitude) or
    ``"gre"`` (spoiled gradient echo, T2 used in place of T2*).

    ``tr``, ``te``, ``ti`` in ms; ``flip`` in degrees (gradient echo only).
    """

    kind: str
    tr: float
    te: float
    ti: float = 0.0
    flip: float = 90.0


TISSUES: dict[str, Tissue] = {
    "wm": Tissue(t1=1084.0, t2=69.0, pd=0.69),
    "gm": Tissue(t1=1820.0, t2=99.0, pd=0.80),
    "csf": Tissue(t1=4400.0, t2=2000.0, pd=1.00),
    "oedema": Tissue(t1=1900.0, t2=180.0, pd=0.86),
    "necrosis": Tissue(t1=3000.0, t2=400.0, pd=0.95),
    "enhancing": Tissue(t1=1700.0, t2=120.0, pd=0.85),
}

GADOLINIUM_R1 = 3.3e-3  # per ms per mM (3.3 /s/mM), Rohrer et al. 2005

SEQUENCES: dict[str, Sequence] = {
    # spoiled gradient echo (FLASH/SPGR) T1 weighting; its WM:GM:CSF ratios match the MNI T1 template
    "t1w": Sequence("gre", tr=20.0, te=4.0, flip=25.0),
    "t1ce": Sequence("gre", tr=20.0, te=4.0, flip=25.0),
    "t2w": Sequence("se", tr=4000.0, te=100.0),
    "pdw": Sequence("se", tr=4000.0, te=15.0),
    # FLAIR: TI near the CSF null point T1 * ln(2 / (1 + exp(-TR / T1)))
    "flair": Sequence("ir", tr=9000.0, te=100.0, ti=2600.0),
}


def with_gadolinium(tissue: Tissue, concentration_mm: float) -> Tissue:
    """The tissue after contrast uptake of ``concentration_mm`` mM (T1 shortened, T2 unchanged)."""
    return replace(tissue, t1=1.0 / (1.0 / tissue.t1 + GADOLINIUM_R1 * concentration_mm))


def signal(tissue: Tissue, seq: Sequence) -> float:
    """Steady-state signal of a tissue for a sequence (unit receive gain).

    - spin echo: ``PD (1 - exp(-TR/T1)) exp(-TE/T2)``
    - inversion recovery (magnitude): ``PD |1 - 2 exp(-TI/T1) + exp(-TR/T1)| exp(-TE/T2)``
    - spoiled gradient echo: ``PD sin(a) (1 - E1) / (1 - cos(a) E1) exp(-TE/T2)``, ``E1 = exp(-TR/T1)``
    """
    e2 = np.exp(-seq.te / tissue.t2)
    if seq.kind == "gre":
        e1 = np.exp(-seq.tr / tissue.t1)
        a = np.deg2rad(seq.flip)
        return float(tissue.pd * np.sin(a) * (1.0 - e1) / (1.0 - np.cos(a) * e1) * e2)
    if seq.kind == "se":
        return float(tissue.pd * (1.0 - np.exp(-seq.tr / tissue.t1)) * e2)
    if seq.kind == "ir":
        mz = 1.0 - 2.0 * np.exp(-seq.ti / tissue.t1) + np.exp(-seq.tr / tissue.t1)
        return float(tissue.pd * abs(mz) * e2)
    raise ValueError(f"unknown sequence kind {seq.kind!r}; expected 'se' or 'ir'")
