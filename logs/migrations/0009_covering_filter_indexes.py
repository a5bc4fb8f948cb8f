"""The filter indexes end with `proxy_id` (D110): a bounded count of a filter's value checks the owner's proxies
from the index alone, where it visited the table for each entry (and ran out of its time budget). Rebuilds four
indexes: seconds per million entries."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('logs', '0008_owner_proxy_statistics'),
        ('proxies', '0006_cache_rows_by_key_hash'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='logentry',
            name='log_ip_time',
        ),
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
            index=models.Index(fields=['ip', 'timestamp', 'id', 'proxy'], name='log_ip_time'),
        ),
        migrations.AddIndex(
            model_name='logentry',
            index=models.Index(condition=models.Q(('status_code__lt', 200), ('status_code__gt', 200), _connector='OR'), fields=['status_code', 'timestamp', 'id', 'proxy'], name='log_status_time'),
        ),
        migrations.AddIndex(
            model_name='logentry',
            index=models.Index(condition=models.Q(('cache', 'bypass')), fields=['cache', 'timestamp', 'id', 'proxy'], name='log_cache_time'),
        ),
        migrations.AddIndex(
            model_name='logentry',
            index=models.Index(condition=models.Q(('failure__isnull', False)), fields=['failure', 'timestamp', 'id', 'proxy'], name='log_failure_time'),
        ),
    ]
