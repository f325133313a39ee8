"""``highseas demo``: a deterministic, realistic Chinese demo organization.

Generating (pure Python, no Django):

- ``data``: word lists (provinces with their cities, industries, names, notes, reasons);
- ``clock``, ``sampling``: demo time as epoch seconds with office hours; seeded draws;
- ``roster``: the organization plan (departments, managers, reps, pools and policies);
- ``world``: the organization as stories see it; ``book``: per-rep quota/cap counters;
- ``identity``, ``profiles``: names, mobiles, e-mails, credit codes; one customer's profile;
- ``followups``, ``ledger``, ``recycling``, ``periods``, ``story``: one customer's
  follow-ups, deals and ownership history, consistent with the pool's policies and the
  engine's recycle schedule;
- ``rows``, ``pipeline``: table rows with precomputed ids, batch by batch, optionally in a
  second process.

Writing (Django): ``org`` (teams, users, pools through the services), ``writer`` and
``tables`` (bulk inserts), ``reset`` (finding and deleting earlier demo data), and
``generator``, which ties it all together behind ``generate_demo``.

Every random choice draws from one ``random.Random(seed)`` in a fixed order, and every
timestamp is an offset from an explicit ``now``, so the same seed, size and ``now`` give the
same data.
"""
