"""Smart assignment (SPEC §9): the win model P(win | rep, customer), its training and versions,
the evaluation on a synthetic world with known truth, and the simulation of past periods.

A layer of its own between ``routing`` (whose runs score with it) and ``insights``: it holds
the one dependency on numpy, scipy and scikit-learn outside the engine's matching, and the
modules without Django (``features``, ``learn``, ``validate``, ``record``, ``scoring``,
``synthetic``, ``evaluate``) run in the benchmarks and tests with no database.
"""
