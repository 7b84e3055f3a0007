"""``python -m bench``: rtcpeer benchmarks (see bench/README.md)."""
