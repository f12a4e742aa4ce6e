"""Storage: the one package that talks to the database.

A :class:`Store` wraps an engine on SpatiaLite (embedded default) or PostGIS
and offers a small interface over GeoDataFrames: read a layer (with bbox and
paging), count, get one feature, upsert a frame by ``source_id`` in one
transaction, keep plans (versions, communities, adoption), networks, analysis
runs, dataset metadata, users, the change log and jobs.  Geometries travel as
WKB; both backends use the same SQL (``ST_GeomFromWKB`` / ``ST_AsBinary``).

``Store`` is composed of one repository per concern, each a class in its own
module over :class:`~geo_service.core.storage._base.StoreBase` (engine,
settings, transactions):

========================  ===========================================================
``layers``                :class:`LayersRepository` — read, count, get, upsert, delete,
                          revisions, import log
``plans``                 :class:`PlansRepository` — plans, plan versions, communities
                          of a plan, adoption
``networks``              :class:`NetworksRepository` — walking networks
``runs``                  :class:`RunsRepository` — analysis runs and their outputs
``tiles``                 :class:`TilesRepository` — extent, ``ST_AsMVT`` tiles
``metadata``              :class:`MetadataRepository` — dataset metadata
``users``                 :class:`UsersRepository` — users and API tokens
``changes``               :class:`ChangesRepository` — the change log
``jobs``                  :class:`JobsRepository` — background jobs
========================  ===========================================================
"""

from __future__ import annotations

from ._base import StoreBase
from ._base import _unavailable as _unavailable
from ._values import _MULTI as _MULTI
from ._values import BATCH_ROWS, SRID, WriteResult, promote_to_storage, utcnow
from ._values import _json as _json
from ._values import _json_rows as _json_rows
from ._values import _paged as _paged
from ._values import _plain_records as _plain_records
from ._values import _py as _py
from ._values import _py_default as _py_default
from ._values import _rows_to_frame as _rows_to_frame
from .changes import ChangesRepository, record_change
from .jobs import JobsRepository
from .jobs import _job_row as _job_row
from .layers import LayersRepository, Progress
from .layers import _records as _records
from .metadata import MetadataRepository
from .networks import SPATIALITE_BULK_ROWS, NetworksRepository
from .networks import _copy_rows as _copy_rows
from .plans import PlansRepository
from .runs import RunsRepository
from .runs import _run_row as _run_row
from .tiles import TilesRepository
from .users import UsersRepository

__all__ = [
    "BATCH_ROWS",
    "SPATIALITE_BULK_ROWS",
    "SRID",
    "ChangesRepository",
    "JobsRepository",
    "LayersRepository",
    "MetadataRepository",
    "NetworksRepository",
    "PlansRepository",
    "Progress",
    "RunsRepository",
    "Store",
    "StoreBase",
    "TilesRepository",
    "UsersRepository",
    "WriteResult",
    "promote_to_storage",
    "record_change",
    "utcnow",
]


class Store(
    PlansRepository,
    NetworksRepository,
    RunsRepository,
    LayersRepository,
    TilesRepository,
    MetadataRepository,
    UsersRepository,
    JobsRepository,
    ChangesRepository,
    StoreBase,
):
    """Storage on SpatiaLite or PostGIS: every repository's methods on one object.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; default from :class:`~geo_service.core.settings.Settings`
        (``DATABASE_URL`` or the SpatiaLite file under the data directory).
    settings : Settings, optional
        Default :func:`~geo_service.core.settings.get_settings`.
    **engine_kwargs
        Passed to :func:`~geo_service.core._db.create_engine`.
    """
