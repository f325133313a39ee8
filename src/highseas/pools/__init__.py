"""Pools, their claim and recycle policies, the ownership services and the ledger."""
