"""Benchmarks (`make bench`) and the soak run (`make soak`) against the real stack."""
