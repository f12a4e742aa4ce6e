"""The foundation (floor 4): settings, storage, coordinate systems, file formats, planning norms, the walking-network
engine, OSM reading and the sample city.

Nothing here imports the domain packages (``facilities``, ``boundaries``), ``maps`` or the service shell
(``geo_service.app``, ``geo_service.api``, ``geo_service.cli``, ``geo_service.jobs``); ``tests/test_layers.py``
enforces it.
"""
