"""Life-circle coverage and facilities audit (德阳市社区治理条例 Art. 12 and 18)."""
