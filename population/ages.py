"""Groups of residents by age: the foundation's :mod:`geo_service.core.ages` (the import validation uses it too)."""

from geo_service.core.ages import (  # noqa: F401 - re-exported for the domain and the shell
    GROUP_ZH,
    GROUPS,
    SOURCE_ZH,
    AgeGroupError,
    check_age_groups,
    group_residents,
    require_consistent_groups,
)
