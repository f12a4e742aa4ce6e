"""Community boundary delineation (德阳市社区治理条例 Art. 3)."""
