"""The partial filter indexes carry the other few-valued filters (D113): entries rare together are found in the
index. The bypass index leads with time. Rebuilds three small indexes: seconds at 10 M entries."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('logs', '0009_covering_filter_indexes'),
        ('proxies', '0006_cache_rows_by_key_hash'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='logentry',
            name='log_status_time',
        ),
        migrations.RemoveIndex(
            model_name='logentry',
            name='log_cache_time',
        ),
        migrations.RemoveIndex(
            model_name='logentry',
            name='log_failure_time',
        ),
        migrations.AddIndex(
            model_name='logentry',
            index=models.Index(condition=models.Q(('status_code__lt', 200), ('status_code__gt', 200), _connector='OR'), fields=['status_code', 'timestamp', 'id', 'cache', 'failure', 'proxy'], name='log_status_time'),
        ),
        migrations.AddIndex(
            model_name='logentry',
            index=models.Index(condition=models.Q(('cache', 'bypass')), fields=['timestamp', 'id', 'cache', 'status_code', 'failure', 'proxy'], name='log_cache_time'),
        ),
        migrations.AddIndex(
            model_name='logentry',
            index=models.Index(condition=models.Q(('failure__isnull', False)), fields=['failure', 'timestamp', 'id', 'status_code', 'cache', 'proxy'], name='log_failure_time'),
        ),
    ]
