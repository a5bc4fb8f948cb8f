"""Every filter index carries the other filters (D115), as the partial ones carry the few-valued ones (D113): a
4xx from a busy address is found in whichever index the planner reads. Rebuilds the four filter indexes."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('logs', '0010_filter_indexes_carry_the_other_filters'),
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
            index=models.Index(fields=['ip', 'timestamp', 'id', 'status_code', 'cache', 'failure', 'proxy'], name='log_ip_time'),
        ),
        migrations.AddIndex(
            model_name='logentry',
            index=models.Index(condition=models.Q(('status_code__lt', 200), ('status_code__gt', 200), _connector='OR'), fields=['status_code', 'timestamp', 'id', 'cache', 'failure', 'ip', 'proxy'], name='log_status_time'),
        ),
        migrations.AddIndex(
            model_name='logentry',
            index=models.Index(condition=models.Q(('cache', 'bypass')), fields=['timestamp', 'id', 'cache', 'status_code', 'failure', 'ip', 'proxy'], name='log_cache_time'),
        ),
        migrations.AddIndex(
            model_name='logentry',
            index=models.Index(condition=models.Q(('failure__isnull', False)), fields=['failure', 'timestamp', 'id', 'status_code', 'cache', 'ip', 'proxy'], name='log_failure_time'),
        ),
    ]
