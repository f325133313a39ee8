"""The ``highseas`` command line: ``init``, ``serve``, ``demo``, ``check``, ``import`` and
``manage``.

Each sub-command is a Django management command of ``highseas.config`` (so ``manage`` reaches
them too); this module only sets up Django and dispatches.
"""

from __future__ import annotations

import os
import sys

# `highseas check` verifies our invariants; Django's own system check stays under `manage check`.
ALIASES = {"check": "check_invariants", "import": "import_"}


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "highseas.config.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    from django.core.management import execute_from_command_line

    if args and args[0] == "manage":
        execute_from_command_line(["highseas", *args[1:]])
        return
    if not args or args[0] in {"-h", "--help", "help"}:
        print(
            "usage: highseas <command> [options]\n\n"
            "commands:\n"
            "  init    create or upgrade the schema and the admin user (idempotent)\n"
            "  serve   serve web + API (+ scheduler) on 127.0.0.1:8000\n"
            "  demo    load a deterministic demo organization\n"
            "  check   verify the ownership invariants; non-zero exit when broken\n"
            "  import  import customers from a CSV or XLSX file (preview, then commit)\n"
            "  manage  any Django management command (migrate, makemigrations, shell, …)\n\n"
            "`highseas <command> --help` shows a command's options."
        )
        return
    execute_from_command_line(["highseas", ALIASES.get(args[0], args[0]), *args[1:]])


if __name__ == "__main__":
    main()
