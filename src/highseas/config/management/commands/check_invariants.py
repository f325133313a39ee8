from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from highseas.pools.invariants import run_checks


class Command(BaseCommand):
    help = "Verify the ownership invariants (SPEC §4); exit 1 with a report when any breaks."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        report = run_checks()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"checked {report.customers} customers and {report.events} ledger "
            f"events in {elapsed:.1f}s"
        )
        if report.ok:
            self.stdout.write(self.style.SUCCESS("all invariants hold"))
            return
        for kind, count in sorted(report.problems.items()):
            self.stdout.write(self.style.ERROR(f"{kind}: {count}"))
        for example in report.examples:
            self.stdout.write(f"  {example}")
        raise SystemExit(1)
