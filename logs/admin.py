from django.contrib import admin

from logs.models import LogEntry


@admin.register(LogEntry)
class LogEntryAdmin(admin.ModelAdmin):
    list_display = ("timestamp", "proxy", "method", "path", "status_code", "latency_ms", "cache", "failure", "cost_usd")
    list_filter = ("cache", "failure", "status_code", "proxy__provider")
    search_fields = ("path", "prompt_hash", "ip")
    date_hierarchy = "timestamp"
    list_select_related = ("proxy",)
