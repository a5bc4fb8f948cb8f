import itertools

from django.db import migrations, models


def rename_duplicates(apps, schema_editor):
    """Renames every proxy after the first (by id) of an owner's same-named ones to the first free "NAME-2",
    "NAME-3", ..., so the constraint below never fails on existing data."""
    Proxy = apps.get_model("proxies", "Proxy")
    max_length = Proxy._meta.get_field("name").max_length
    rows = list(Proxy.objects.order_by("owner_id", "id").values_list("id", "owner_id", "name"))
    taken = {(owner, name) for _, owner, name in rows}
    kept = set()
    for pk, owner, name in rows:
        if (owner, name) not in kept:
            kept.add((owner, name))
            continue
        for n in itertools.count(2):
            new = name[: max_length - len(f"-{n}")] + f"-{n}"
            if (owner, new) not in taken:
                break
        taken.add((owner, new))
        Proxy.objects.filter(pk=pk).update(name=new)


class Migration(migrations.Migration):

    dependencies = [
        ('proxies', '0002_cache_rows_by_id'),
    ]

    operations = [
        migrations.RunPython(rename_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='proxy',
            constraint=models.UniqueConstraint(fields=('owner', 'name'), name='proxy_unique_name_per_owner'),
        ),
    ]
