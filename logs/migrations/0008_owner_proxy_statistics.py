"""PostgreSQL's statistics of `proxy_id + 0`, the owner's-proxies term of every owner-wide list (D80, D107).

Without them the planner guesses that term keeps 0.5 % of the entries per proxy, where it keeps nearly all of
them, and took a sort or a bitmap of a whole filter for the cheaper plan: `status=4xx` with a common address read
its first page in 237 ms (p50; 7 s at worst) at 10 M entries, and in 3.3 ms with them. SQLite has no such
statistics and needs none (its planner does not weigh that term)."""

from django.db import migrations

STATISTICS = "log_owner_proxy"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} ON ((proxy_id + 0)) FROM logs_logentry")
        schema_editor.execute("ANALYZE logs_logentry")  # a sample: seconds at tens of millions of entries


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")


class Migration(migrations.Migration):
    dependencies = [("logs", "0007_filter_indexes")]

    operations = [migrations.RunPython(create, drop)]
