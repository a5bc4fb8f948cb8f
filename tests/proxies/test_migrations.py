"""Migration 0003 makes names unique per owner; it renames existing duplicates first so it never fails."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("proxies", "0002_cache_rows_by_id")
AFTER = ("proxies", "0003_proxy_unique_name_per_owner")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_it_renames_an_owners_duplicate_names_in_id_order(transactional_db, user, other_user):
    Proxy = migrate(BEFORE).get_model("proxies", "Proxy")
    try:
        ports = iter(range(24000, 24100))
        rows = [
            (user, "dev"),
            (user, "dev"),
            (user, "dev-2"),  # already taken: the second "dev" skips it
            (user, "dev"),
            (other_user, "dev"),  # another owner's: untouched
            (user, "x" * 100),
            (user, "x" * 100),  # a suffix still fits the column
        ]
        ids = [
            Proxy.objects.create(owner_id=owner.pk, name=name, provider="openai", model_name="m", port=next(ports)).pk
            for owner, name in rows
        ]
        Proxy = migrate(AFTER).get_model("proxies", "Proxy")
        names = [Proxy.objects.get(pk=pk).name for pk in ids]
        assert names == ["dev", "dev-3", "dev-2", "dev-4", "dev", "x" * 100, "x" * 98 + "-2"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
