from django.db import migrations, models

from proxies.key_filter import key_hash


def fill_key_hashes(apps, schema_editor):
    """Rows stored before key_hash existed get theirs, a chunk at a time."""
    CacheEntry = apps.get_model("proxies", "CacheEntry")
    last = 0
    while True:
        rows = list(CacheEntry.objects.filter(id__gt=last).order_by("id").values_list("id", "key")[:10_000])
        if not rows:
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE proxies_cacheentry SET key_hash = %s WHERE id = %s", [(key_hash(key), i) for i, key in rows]
            )
        last = rows[-1][0]


class Migration(migrations.Migration):
    dependencies = [
        ("proxies", "0005_cache_modes_and_entry_details"),
    ]

    operations = [
        migrations.AddField(
            model_name="cacheentry",
            name="key_hash",
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(fill_key_hashes, migrations.RunPython.noop),
        migrations.RemoveIndex(
            model_name="cacheentry",
            name="cache_entry_proxy_rows",
        ),
        migrations.AddIndex(
            model_name="cacheentry",
            index=models.Index(fields=["proxy", "key_hash"], name="cache_entry_proxy_key_hash"),
        ),
    ]
