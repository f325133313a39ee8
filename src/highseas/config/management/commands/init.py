from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from highseas.accounts import services
from highseas.accounts.models import Role, User
from highseas.config.private_files import make_data_private
from highseas.customers import crypto
from highseas.pools.models import Pool
from highseas.pools.services import save_pool


class Command(BaseCommand):
    help = "Create or upgrade the schema, the admin user and the default pool (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument(
            "--admin-password", default=None, help="required the first time the admin is created"
        )

    def handle(
        self, *args: Any, admin_username: str, admin_password: str | None, **options: Any
    ) -> None:
        try:  # before the schema: migrating encrypts the rows stored in clear
            ring = crypto.keyring(fresh=True)
        except crypto.DataKeyError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"data key: {ring.current} ({ring.source})")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("schema: up to date")
        for path in make_data_private():
            self.stdout.write(f"private: {path}")
        with transaction.atomic():
            self._ensure_admin(admin_username, admin_password)
            if not Pool.objects.filter(is_default=True).exists():
                save_pool(
                    Pool(name="默认公海", is_default=True, description="未指定公海的客户进入这里。")
                )
                self.stdout.write("pool: created the default pool 默认公海")

    def _ensure_admin(self, username: str, password: str | None) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            if not password:
                self.stderr.write("--admin-password is required to create the admin")
                raise SystemExit(2)
            services.create_user(
                username=username, password=password, display_name="管理员", role=Role.ADMIN
            )
            self.stdout.write(f"admin: created {username}")
            return
        if password and not user.check_password(password):
            services.update_user(user, password=password, role=Role.ADMIN)
            self.stdout.write(f"admin: {username} exists; password updated")
        else:
            self.stdout.write(f"admin: {username} exists")
