from django.contrib import admin

from proxies.models import CacheEntry, Proxy


@admin.register(Proxy)
class ProxyAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "provider", "port", "status", "desired_state", "updated_at")
    list_filter = ("provider", "status", "desired_state", "tls")
    search_fields = ("name", "owner__email", "model_name")
    list_select_related = ("owner",)


@admin.register(CacheEntry)
class CacheEntryAdmin(admin.ModelAdmin):
    list_display = ("proxy", "key", "status", "size", "hits", "created_at")
    list_filter = ("status", "proxy__provider")
    list_select_related = ("proxy",)
    search_fields = ("key",)
    exclude = ("body",)  # never shown: bodies are the users' data
    readonly_fields = ("proxy", "key", "status", "headers", "chunks", "usage", "size", "hits")
