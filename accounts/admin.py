from django.contrib import admin

from accounts.models import ApiToken, SiteSettings


def superusers_only(request) -> bool:
    """The admin is a debugging tool over every user's data: superusers only, not every `is_staff` user
    (staff may edit the global settings through the API, nothing more)."""
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = superusers_only
admin.site.site_header = "Rubberduck admin"
admin.site.site_title = "Rubberduck admin"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    list_filter = ("created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("name", "user__email", "prefix")
    readonly_fields = ("user", "prefix", "key_hash", "created_at", "last_used_at")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False  # a key must be shown once to its owner: issue tokens through the API or `manage.py apitoken`


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "signup_open", "log_retention_days", "updated_at")

    def has_add_permission(self, request):
        return not SiteSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
