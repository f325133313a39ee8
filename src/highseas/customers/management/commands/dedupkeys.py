"""``highseas dedupkeys``: fill the duplicate keys of customers written without them."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from tqdm import tqdm

from highseas.customers.duplicates import backfill_keys
from highseas.customers.fts import create_search_index
from highseas.customers.models import Customer


class Command(BaseCommand):
    help = (
        "Compute the duplicate keys (blind indexes of the normalized phone, e-mail and credit "
        "code under the current data key; the core name) of customers that have none — rows "
        "loaded outside the services — or of all with --all; --search also rebuilds the "
        "public search index."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all", action="store_true", help="recompute every customer's keys (new rules)"
        )
        parser.add_argument(
            "--search", action="store_true", help="rebuild the public search index as well"
        )
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        total = Customer.objects.count()
        with tqdm(total=total, desc="duplicate keys", unit=" customers", file=sys.stderr) as bar:
            for done in backfill_keys(
                batch_size=options["batch_size"], only_missing=not options["all"]
            ):
                bar.update(done)
        if options["search"]:
            create_search_index(connection)
        self.stdout.write(f"duplicate keys current for {total} customers")
