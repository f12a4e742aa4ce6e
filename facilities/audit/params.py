"""Parameters of an audit: walking limits (m) per shelter class, serving classes, day/night factor,
parcel search distance (m), the life-circle level of the required facilities."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from geo_service.core._errors import InputError
from geo_service.core.network import profile_code
from geo_service.core.norms import Norms
from geo_service.core.vocab import SHELTER_CLASSES


@dataclass(frozen=True)
class AuditParams:
    """Parameters of one audit.

    Parameters
    ----------
    walk_limits_m : dict, optional
        Walking limit (m) per shelter class that gets an assignment; default
        ``{"emergency": shelter.emergency_walk_limit_m}`` (500 m).
    serving_classes : dict, optional
        Shelter classes whose sites take residents in each assignment; default: the class
        itself (``{"emergency": ["emergency"]}``).
    day_night_factor : float
        Demand = residents x factor (e.g. 1.2 for a daytime population); default 1.
    parcel_search_m : float
        Reserved parcels within this straight-line distance (m) of a community count as
        near it; parcels inside come first.
    required_level : str
        Life-circle level whose required facilities every community must have (``5min``).
    fixed_share_classes : tuple
        Shelter classes counted towards the fixed-shelter share (``fixed`` and ``central``).
    """

    walk_limits_m: dict[str, float] | None = None
    serving_classes: dict[str, tuple[str, ...]] | None = None
    day_night_factor: float = 1.0
    parcel_search_m: float = 500.0
    required_level: str = "5min"
    fixed_share_classes: tuple[str, ...] = ("fixed", "central")
    profile: str = "standard"  # walking profile of the evacuees (standard, elderly, wheelchair): network and limits

    @classmethod
    def from_input(
        cls,
        walk_limit_m: float | str | None = None,
        day_night_factor: float | str | None = 1.0,
        profile: str | None = None,
    ) -> AuditParams:
        """The one constructor from CLI options, HTTP query parameters or a job's stored parameters.

        ``walk_limit_m``: the emergency shelters' walking limit, m (None: the norms'); ``day_night_factor``:
        residents to place per resident (None: 1); ``profile``: how the evacuees walk (``standard``, ``elderly``,
        ``wheelchair`` or 标准、老年人、轮椅): the walking limit is then the same walking time as a standard walker
        needs, on the edges open to the profile. Raises :class:`InputError` for values out of range or an unknown
        profile.
        """
        params = cls(
            walk_limits_m=None if walk_limit_m is None else {"emergency": float(walk_limit_m)},
            day_night_factor=1.0 if day_night_factor is None else float(day_night_factor),
            profile=profile_code(profile),
        )
        params.validate()
        return params

    @property
    def is_default(self) -> bool:
        """True for the parameters every reader may see computed (anonymous requests)."""
        return self == AuditParams()

    def limits(self, norms: Norms) -> dict[str, float]:
        """Walking limit (m) per shelter class to assign; raises :class:`InputError` for an unknown class or a
        limit that is not positive."""
        lim = (
            dict(self.walk_limits_m)
            if self.walk_limits_m
            else {"emergency": float(norms.shelter.emergency_walk_limit_m)}
        )
        for cls, m in lim.items():
            if cls not in SHELTER_CLASSES:
                raise InputError(
                    f"unknown shelter class {cls!r}", f"未知的避难场所类别「{cls}」", known=list(SHELTER_CLASSES)
                )
            if not np.isfinite(m) or m <= 0:
                raise InputError("walking limits must be positive", "步行距离上限必须大于 0", shelter_class=cls)
        return lim

    def serving(self, cls: str) -> tuple[str, ...]:
        """Shelter classes whose sites take the residents of the assignment of ``cls``."""
        if self.serving_classes and cls in self.serving_classes:
            bad = [c for c in self.serving_classes[cls] if c not in SHELTER_CLASSES]
            if bad:
                raise InputError(f"unknown shelter classes {bad}", f"未知的避难场所类别：{bad}")
            return tuple(self.serving_classes[cls])
        return (cls,)

    def validate(self) -> None:
        """Raise :class:`InputError` unless the factor is positive and the search distance (m) not negative."""
        if not np.isfinite(self.day_night_factor) or self.day_night_factor <= 0:
            raise InputError("day_night_factor must be positive", "昼夜人口系数必须大于 0")
        if not np.isfinite(self.parcel_search_m) or self.parcel_search_m < 0:
            raise InputError("parcel_search_m must be >= 0", "地块搜索距离不能为负")

    def as_dict(self) -> dict:
        """The parameters as plain JSON values (stored with a run)."""
        d = asdict(self)
        d["fixed_share_classes"] = list(self.fixed_share_classes)
        if d["serving_classes"]:
            d["serving_classes"] = {k: list(v) for k, v in d["serving_classes"].items()}
        return d
