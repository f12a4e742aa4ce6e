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
``scenarios``             :class:`ScenariosRepository` — what-if scenarios (named change sets)
========================  ===========================================================
"""

from __future__ import annotations

from ._base import StoreBase
from ._values import BATCH_ROWS, SRID, WriteResult, promote_to_storage, utcnow
from .changes import ChangesRepository, record_change
from .jobs import JobsRepository
from .layers import LayersRepository, Progress
from .metadata import MetadataRepository
from .networks import SPATIALITE_BULK_ROWS, NetworksRepository
from .plans import PlansRepository
from .runs import RunsRepository
from .scenarios import ScenariosRepository
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
    "ScenariosRepository",
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
    ScenariosRepository,
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
