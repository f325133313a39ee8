"""Benchmarks of SPEC §12, runnable from a checkout; the code lives in ``highseas.bench``."""
