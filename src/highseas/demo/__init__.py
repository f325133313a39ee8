"""``highseas demo``: a deterministic, realistic Chinese demo organization.

The package is split by concern:

- ``data``: word lists (provinces with their cities, industries, names, notes, reasons);
- ``clock``: demo time as integer seconds, office hours, conversion to datetimes;
- ``roster``: the organization plan (teams, managers, reps, pools and their policies);
- ``identity``: names, mobile numbers, e-mails and unified social credit codes;
- ``profiles``: one customer's firmographics and contacts;
- ``story``: one customer's ownership history, follow-ups and deals, consistent with the
  pool's claim and recycle policies;
- ``org``: writes the roster through the account and pool services;
- ``writer``: bulk inserts with precomputed primary keys;
- ``reset``: finds and deletes earlier demo data;
- ``generator``: ties the above together behind ``generate_demo``.

Every random choice draws from one ``random.Random(seed)`` in a fixed order, and every
timestamp is an offset from an explicit ``now``, so the same seed, size and ``now`` give the
same data.
"""
