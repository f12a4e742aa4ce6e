"""Geospatial planning and facilities service for community governance (社区治理空间规划与设施服务)."""

__version__ = "0.1.0"
