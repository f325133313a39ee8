"""Intake: customers entering HighSeas — registration by a person (and, next, imports)."""
