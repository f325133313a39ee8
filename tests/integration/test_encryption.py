"""Personal data at rest (SPEC §13): what the raw database holds, blind keys, key rotation,
and the privacy of the data folder."""

from __future__ import annotations

import base64
import importlib
import io
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from highseas.customers import search
from highseas.customers.models import Contact, Customer, CustomerMerge
from highseas.engine.errors import ErrorCode, HighSeasError
from highseas.intake.creation import create_customer
from highseas.pools.followups import add_contact
from highseas.pools.merge import merge

BYTEDANCE = {
    "name": "北京字节跳动科技有限公司",
    "phone": "138-0013-8000",
    "email": "Sales@ByteDance.com",
}
BYTEDANCE_AGAIN = {"name": "字节跳动科技（北京）有限公司", "phone": "+86 13800138000"}
CONTACT = {
    "name": "王经理",
    "phones": ["13912345678", "021-6543-2109"],
    "email": "wang.hr@bytedance.com",
    "wechat": "wang_bytedance_hr",
}
# What must not be found in clear anywhere in the row data (digits as stored or normalized).
SECRETS = (
    "13800138000",
    "138-0013-8000",
    "sales@bytedance",
    "Sales@ByteDance",
    "13912345678",
    "65432109",
    "6543-2109",
    "wang.hr@bytedance",
    "wang_bytedance_hr",
)


def raw_rows() -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Every row of every table, read past Django: the SQLite file through ``sqlite3``,
    PostgreSQL through a plain cursor."""
    if connection.vendor == "sqlite":
        raw = sqlite3.connect(connection.settings_dict["NAME"])
        try:
            tables = [
                name
                for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                try:
                    rows = raw.execute(f'SELECT * FROM "{table}"')
                except sqlite3.OperationalError as error:
                    # a contentless full-text index: its shadow tables hold what it stores
                    if "does not support scanning" in str(error):
                        continue
                    raise
                for row in rows:
                    yield table, row
        finally:
            raw.close()
        return
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                yield table, row


def clear_text_found() -> list[tuple[str, str]]:
    found = []
    for table, row in raw_rows():
        text = " ".join(
            value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            for value in row
        )
        found += [(table, secret) for secret in SECRETS if secret.lower() in text.lower()]
    return found


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def customers(org: dict[str, Any]) -> dict[str, Any]:
    """The customer and its contact, written through the services (and committed)."""
    customer = create_customer(
        actor=org["rep_a"], fields=dict(BYTEDANCE), owner=org["rep_a"], pool=org["east_pool"]
    ).customer
    contact = add_contact(org["rep_a"], customer.pk, **CONTACT)
    return {"customer": customer, "contact": contact}


def create_again(org: dict[str, Any], **fields: Any) -> Customer:
    return create_customer(
        actor=org["rep_c"],
        fields={**BYTEDANCE_AGAIN, **fields},
        owner=org["rep_c"],
        pool=org["south_pool"],
    ).customer


@pytest.mark.django_db(transaction=True)
def test_the_raw_database_holds_no_phone_email_or_wechat_in_clear(
    org: dict[str, Any], customers: dict[str, Any]
) -> None:
    other = create_customer(
        actor=org["rep_a"],
        fields={"name": "上海华信科技有限公司", "phone": "13700137000", "email": "a@huaxin.cn"},
        owner=org["rep_a"],
        pool=org["east_pool"],
    ).customer
    merge(org["admin"], customers["customer"].pk, other.pk)  # the merge record keeps both
    assert CustomerMerge.objects.count() == 1
    assert clear_text_found() == []
    assert "13700137000" not in json.dumps([row for _, row in raw_rows()], default=str)


@pytest.mark.django_db(transaction=True)
def test_python_code_reads_and_writes_plaintext_as_before(customers: dict[str, Any]) -> None:
    customer = Customer.objects.get(pk=customers["customer"].pk)
    contact = Contact.objects.get(pk=customers["contact"].pk)
    assert (customer.phone, customer.email) == ("138-0013-8000", "Sales@ByteDance.com")
    assert (contact.phones, contact.email, contact.wechat) == (
        ["13912345678", "021-6543-2109"],
        "wang.hr@bytedance.com",
        "wang_bytedance_hr",
    )
    assert list(Customer.objects.filter(pk=customer.pk).values_list("phone", flat=True)) == [
        "138-0013-8000"
    ]


@pytest.mark.django_db(transaction=True)
def test_the_duplicate_check_and_exact_search_still_find_the_variants(
    org: dict[str, Any], customers: dict[str, Any]
) -> None:
    with pytest.raises(HighSeasError) as refused:
        create_again(org)
    assert refused.value.code is ErrorCode.DUPLICATE
    with pytest.raises(HighSeasError) as refused:
        create_again(org, name="完全不同的公司", phone="", email=" SALES@bytedance.COM ")
    assert refused.value.code is ErrorCode.DUPLICATE
    found = customers["customer"].pk
    for query in ("+86 138 0013 8000", "sales@bytedance.com", "13800138000"):
        assert [row["id"] for row in search.search(query).rows] == [found], query


@pytest.mark.django_db
def test_a_value_that_looks_like_a_token_is_stored_encrypted_and_read_back(
    org: dict[str, Any], customers: dict[str, Any]
) -> None:
    lookalike = "hs1:deadbeef:AAAA"
    contact = add_contact(org["rep_a"], customers["customer"].pk, name="李四", wechat=lookalike)
    assert Contact.objects.get(pk=contact.pk).wechat == lookalike
    Contact.objects.filter(pk=contact.pk).update(phones=lookalike)  # the JSON field alike
    assert Contact.objects.get(pk=contact.pk).phones == lookalike


@pytest.mark.django_db
def test_an_encrypted_column_refuses_a_lookup_by_value(customers: dict[str, Any]) -> None:
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError):
        Customer.objects.filter(phone="138-0013-8000").count()
    assert Customer.objects.filter(email="").count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_rows_an_older_version_stored_in_clear(
    org: dict[str, Any], customers: dict[str, Any]
) -> None:
    migration = importlib.import_module("highseas.customers.migrations.0010_encrypt_existing_rows")
    customer, contact = customers["customer"], customers["contact"]
    with connection.cursor() as cursor:  # what the tables held before encryption
        cursor.execute(
            "UPDATE customers_customer SET phone = %s, email = %s, phone_key = %s, "
            "email_key = %s WHERE id = %s",
            [
                BYTEDANCE["phone"],
                BYTEDANCE["email"],
                "+8613800138000",
                "sales@bytedance.com",
                customer.pk,
            ],
        )
        cursor.execute(
            "UPDATE customers_contact SET phones = %s, email = %s, wechat = %s WHERE id = %s",
            [
                connection.ops.adapt_json_value(CONTACT["phones"], None),
                CONTACT["email"],
                CONTACT["wechat"],
                contact.pk,
            ],
        )
    assert clear_text_found() != []

    migration.encrypt_rows(None, SimpleNamespace(connection=connection))

    assert clear_text_found() == []
    assert Contact.objects.get(pk=contact.pk).phones == CONTACT["phones"]
    with pytest.raises(HighSeasError) as refused:
        create_again(org)
    assert refused.value.code is ErrorCode.DUPLICATE


# --- keys and rotation ---------------------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path, settings: Any) -> Iterator[Path]:
    """A key file of the test's own (generated on first use)."""
    from highseas.customers import crypto

    settings.HIGHSEAS_DATA_KEY = ""
    settings.HIGHSEAS_DATA_KEY_FILE = tmp_path / "keys" / "data_keys.json"
    crypto.invalidate()
    yield settings.HIGHSEAS_DATA_KEY_FILE
    crypto.invalidate()


def stored_key_ids() -> set[str | None]:
    from highseas.customers import crypto

    ids: set[str | None] = set()
    for table, row in raw_rows():
        if table in ("customers_customer", "customers_contact"):
            for value in row:
                text = value if isinstance(value, str) else ""
                text = text.strip('"')
                if crypto.is_token(text):
                    ids.add(crypto.key_id_of(text))
    return ids


@pytest.mark.django_db(transaction=True)
def test_the_generated_key_file_is_private(key_file: Path, customers: dict[str, Any]) -> None:
    assert mode(key_file) == 0o600
    document = json.loads(key_file.read_text())
    assert list(document["keys"]) == [document["current"]]
    assert stored_key_ids() == {document["current"]}


@pytest.mark.django_db(transaction=True)
def test_a_key_from_the_environment_is_used_and_named_by_its_fingerprint(
    settings: Any, key_file: Path, org: dict[str, Any]
) -> None:
    from highseas.customers import crypto

    key = bytes(range(32))
    settings.HIGHSEAS_DATA_KEY = base64.b64encode(key).decode()
    crypto.invalidate()
    customer = create_customer(
        actor=org["rep_a"], fields=dict(BYTEDANCE), owner=org["rep_a"], pool=org["east_pool"]
    ).customer
    assert stored_key_ids() == {crypto.fingerprint(key)}
    settings.HIGHSEAS_DATA_KEY = ""
    crypto.invalidate()
    with pytest.raises(crypto.DataKeyError):  # the key file's key cannot read it
        Customer.objects.get(pk=customer.pk)
    settings.HIGHSEAS_DATA_KEY = base64.b64encode(bytes(32)).decode()
    settings.HIGHSEAS_DATA_OLD_KEYS = base64.b64encode(key).decode()
    crypto.invalidate()
    assert Customer.objects.get(pk=customer.pk).phone == "138-0013-8000"


@pytest.mark.django_db(transaction=True)
def test_rotation_reencrypts_every_row_under_the_new_key_and_keeps_lookups(
    org: dict[str, Any], key_file: Path, customers: dict[str, Any]
) -> None:
    from highseas.accounts.models import AuditLog
    from highseas.customers import crypto

    old = json.loads(key_file.read_text())["current"]
    ring = crypto.begin_rotation()  # a rotation begun: rows still under the old key
    assert ring.current != old and ring.old == [old]
    assert stored_key_ids() == {old}
    assert Customer.objects.get(pk=customers["customer"].pk).phone == "138-0013-8000"
    with pytest.raises(HighSeasError) as refused:  # old blind keys are still found
        create_again(org)
    assert refused.value.code is ErrorCode.DUPLICATE

    call_command("rotatekeys", grace=0, stdout=io.StringIO())

    assert stored_key_ids() == {ring.current}
    document = json.loads(key_file.read_text())
    assert (list(document["keys"]), list(document["retired"])) == ([ring.current], [old])
    assert mode(key_file) == 0o600
    crypto.invalidate()
    contact = Contact.objects.get(pk=customers["contact"].pk)
    assert (contact.phones, contact.wechat) == (CONTACT["phones"], CONTACT["wechat"])
    with pytest.raises(HighSeasError) as refused:
        create_again(org)
    assert refused.value.code is ErrorCode.DUPLICATE
    assert [row["id"] for row in search.search("13800138000").rows] == [customers["customer"].pk]
    audit = AuditLog.objects.get(action=AuditLog.Action.KEY_ROTATION)
    assert (audit.target_id, audit.detail["retired"]) == (ring.current, [old])


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_rotation_resumes_with_its_key(
    key_file: Path, customers: dict[str, Any]
) -> None:
    from highseas.customers import crypto, rekeying

    ring = crypto.begin_rotation()
    next(rekeying.reencrypt(connection, batch_size=1, ring=ring))  # one row, then stopped
    assert crypto.begin_rotation().current == ring.current  # resumed, no third key
    call_command("rotatekeys", grace=0, stdout=io.StringIO())
    assert stored_key_ids() == {ring.current}
    assert rekeying.stale_rows(connection) == 0


# --- the data folder ------------------------------------------------------------------------


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "highseas.config.sqlite",
    reason="the SQLite file",
)
@pytest.mark.django_db
def test_the_database_file_is_created_private() -> None:
    assert mode(connection.settings_dict["NAME"]) == 0o600


def test_init_and_serve_make_an_old_data_folder_private(tmp_path: Path) -> None:
    from highseas.config.private_files import make_private

    folder = tmp_path / "var"
    (folder / "static").mkdir(parents=True)
    (folder / "static").chmod(0o755)
    database = folder / "highseas.sqlite3"
    for path in (database, folder / "highseas.sqlite3-wal", folder / "secret_key"):
        path.write_text("x")
        path.chmod(0o644)
    folder.chmod(0o755)
    make_private(folder, [database])
    assert mode(folder) == 0o700
    assert {mode(path) for path in folder.iterdir() if path.is_file()} == {0o600}
    assert mode(folder / "static") == 0o755  # served files are left alone


# --- bulk writers ---------------------------------------------------------------------------


def assert_no_clear_text(values: list[str]) -> None:
    values = [value for value in values if value]
    assert values
    text = "\n".join(" ".join(str(value) for value in row) for _table, row in raw_rows()).lower()
    assert [value for value in values if value.lower() in text] == []


@pytest.mark.django_db(transaction=True)
def test_the_demo_loader_writes_ciphertext_and_blind_keys() -> None:
    call_command("init", admin_username="admin", admin_password="Admin#2026", stdout=io.StringIO())
    call_command(
        "demo", "--customers", "40", "--now", "2026-05-18T00:00:00+08:00", "--no-progress",
        stdout=io.StringIO(),
    )  # fmt: skip
    phones = list(Customer.objects.exclude(phone="").values_list("phone", flat=True))
    emails = list(Customer.objects.exclude(email="").values_list("email", flat=True))
    contacts = list(Contact.objects.values_list("phones", "wechat", "email"))
    assert_no_clear_text(
        [*phones, *emails, *(phone for row in contacts for phone in row[0]), *(
            value for row in contacts for value in row[1:]
        )]
    )  # fmt: skip
    customer = Customer.objects.exclude(phone="").filter(merged_into__isnull=True).first()
    assert customer is not None
    assert customer.pk in [row["id"] for row in search.search(customer.phone).rows]


@pytest.mark.django_db(transaction=True)
def test_the_bench_dataset_writes_ciphertext(org: dict[str, Any]) -> None:
    from highseas.bench.dataset import insert_customers

    insert_customers(org["east_pool"], org["east_manager"], 3)
    rows = list(Customer.objects.values_list("phone", "email"))
    assert len(rows) == 3 and rows[0][0].startswith("13")
    assert_no_clear_text([value for row in rows for value in row])


@pytest.mark.django_db
def test_init_names_the_data_key_and_refuses_a_malformed_one(settings: Any, key_file: Path) -> None:
    from highseas.customers import crypto

    out = io.StringIO()
    call_command("init", admin_username="admin", admin_password="Admin#2026", stdout=out)
    assert f"data key: {crypto.keyring().current}" in out.getvalue()
    assert mode(key_file) == 0o600
    settings.HIGHSEAS_DATA_KEY = "not base64!"
    crypto.invalidate()
    with pytest.raises(CommandError, match="HIGHSEAS_DATA_KEY"):
        call_command("init", admin_username="admin", stdout=io.StringIO())


@pytest.mark.django_db(transaction=True)
def test_an_import_keeps_the_lines_it_planned_encrypted(org: dict[str, Any]) -> None:
    from highseas.accounts.visibility import Viewer
    from highseas.intake.imports import commit_import, import_rows, preview_import

    content = "客户名称,电话,邮箱\n远航贸易有限公司,13600136000,boss@yuanhang.cn\n".encode()
    job = preview_import(
        Viewer(org["admin"]), file_name="客户.csv", content=content, pool_id=org["east_pool"].pk
    )
    raw = json.dumps([row for _, row in raw_rows()], default=str)
    assert "13600136000" not in raw and "boss@yuanhang.cn" not in raw
    (row,) = import_rows(Viewer(org["admin"]), job.pk)
    assert row.values["phone"] == "13600136000"  # read back in clear through the model
    commit_import(Viewer(org["admin"]), job.pk)
    assert Customer.objects.get(name="远航贸易有限公司").phone == "13600136000"


@pytest.mark.django_db(transaction=True)
def test_the_kept_lines_of_an_unfinished_import_are_encrypted_and_rotated(
    org: dict[str, Any], key_file: Path
) -> None:
    """An import applied at once keeps its file's lines until it is done (``KeptLines``):
    encrypted, and brought under a new key by a rotation like the rows."""
    from highseas.accounts.visibility import Viewer
    from highseas.customers import crypto
    from highseas.intake import imports
    from highseas.intake.models import KeptLines

    content = "客户名称,电话\n远航贸易有限公司,13600136000\n".encode()
    request = {"file_name": "客户.csv", "content": content, "pool_id": org["east_pool"].pk}
    job, rows = imports._new_job(Viewer(org["admin"]), request, at_once=True)
    imports._keep_lines(job, rows)

    def kept_key() -> str | None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT cells FROM intake_keptlines")
            (stored,) = cursor.fetchone()
        text = stored if isinstance(stored, str) else json.dumps(stored)
        assert "13600136000" not in text
        return crypto.key_id_of(text.strip('"'))

    old = kept_key()
    ring = crypto.begin_rotation()
    call_command("rotatekeys", grace=0, stdout=io.StringIO())
    assert kept_key() == ring.current != old
    crypto.invalidate()
    kept = KeptLines.objects.get(job=job).cells
    assert kept == [[2, {"name": "远航贸易有限公司", "phone": "13600136000"}]]
