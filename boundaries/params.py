"""Parameters of plan delineation and plan evaluation, each built by one constructor from CLI, HTTP or job input.

The default household band comes from the norms the caller passes: always the store's norms
(:attr:`geo_service.core.storage.Store.norms`), so a city's override file (``GEO_NORMS_FILE``) applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from geo_service.core._errors import InputError
from geo_service.core.norms import Norms

from .delineate import MODES, Band

__all__ = ["DelineationParams", "EvaluationParams", "band_from_input"]


def band_from_input(
    norms: Norms,
    text: str | None = None,
    *,
    min_households: int | None = None,
    max_households: int | None = None,
) -> Band:
    """The household band: ``text`` as ``"MIN-MAX"`` (e.g. ``"1000-3000"``), else ``min_households`` and
    ``max_households`` each replacing one end of the norms' band (``community.household_band``), households."""
    lo, hi = norms.household_band
    if text is not None and str(text).strip() != "":
        return _parse_band(str(text))
    return Band(int(min_households or lo), int(max_households or hi))


def _parse_band(text: str) -> Band:
    parts = text.replace("–", "-").replace("～", "-").replace("~", "-").split("-")
    try:
        lo, hi = (int(float(p)) for p in parts)
    except ValueError:
        raise InputError(
            f"households band must be MIN-MAX, e.g. 1000-3000, got {text!r}",
            f"户数范围应写作 下限-上限，如 1000-3000；收到 {text!r}",
        ) from None
    return Band(lo, hi)


@dataclass(frozen=True)
class DelineationParams:
    """What a delineation proposes.

    Attributes
    ----------
    streets : street codes to delineate (None: every street)
    band : households per community
    k : number of communities (one street only; None: from households, the band and the workers available)
    from_plan : the existing plan (id or name) for the modes ``closest`` and ``minimal_change``
    mode : ``fresh``, ``closest`` or ``minimal_change``
    seed : seed of the partitioner (same inputs and seed, same plan)
    """

    streets: tuple[str, ...] | None
    band: Band
    k: int | None = None
    from_plan: int | str | None = None
    mode: str = "fresh"
    seed: int = 0

    @classmethod
    def from_input(
        cls,
        norms: Norms,
        *,
        streets: Sequence[str] | None = None,
        households: str | None = None,
        households_min: int | None = None,
        households_max: int | None = None,
        k: int | None = None,
        from_plan: int | str | None = None,
        mode: str | None = None,
        seed: int = 0,
    ) -> DelineationParams:
        """The one constructor; ``streets`` ``["all"]`` means every street. Raises :class:`InputError`."""
        band = band_from_input(norms, households, min_households=households_min, max_households=households_max)
        mode = mode or ("minimal_change" if from_plan is not None else "fresh")
        if mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}", f"模式应为 {'、'.join(MODES)} 之一", mode=mode)
        if k is not None and int(k) < 1:
            raise InputError("k must be at least 1", "社区数量（k）至少为 1", k=k)
        if from_plan is None and mode != "fresh":
            raise InputError(
                "modes closest and minimal_change need --from-plan",
                "“最接近现状”和“最小调整”模式需要指定现状方案（from_plan）",
            )
        every = streets is None or [str(s).lower() for s in streets] == ["all"]
        chosen = None if every else tuple(str(s) for s in streets or ())
        return cls(chosen, band, None if k is None else int(k), from_plan, mode, int(seed))

    def as_dict(self) -> dict:
        """The parameters as plain JSON values (stored with the draft plan)."""
        return {
            "streets": None if self.streets is None else list(self.streets),
            "band": [self.band.min_households, self.band.max_households],
            "k": self.k,
            "mode": self.mode,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class EvaluationParams:
    """What a plan evaluation measures against: the household band, and another plan for residents moved."""

    band: Band
    version: int | None = None
    other: int | str | None = None
    other_version: int | None = None

    @classmethod
    def from_input(
        cls,
        norms: Norms,
        *,
        households: str | None = None,
        households_min: int | None = None,
        households_max: int | None = None,
        version: int | None = None,
        other: int | str | None = None,
        other_version: int | None = None,
    ) -> EvaluationParams:
        """The one constructor (band as in :func:`band_from_input`). Raises :class:`InputError`."""
        band = band_from_input(norms, households, min_households=households_min, max_households=households_max)
        return cls(band, version, other, other_version)
