from django.contrib import admin
from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from accounts import views as accounts_views
from logs import api as logs_api
from metrics import api as metrics_api
from metrics import prometheus
from proxies import api as proxies_api
from proxies import cache_api, tls_api
from restapi.ids import IdConverter
from rubberduck_site import views

register_converter(IdConverter, "id")

api_v1 = [
    path("providers/", proxies_api.ProviderListApi.as_view()),
    path("proxies/", proxies_api.ProxyListApi.as_view()),
    path("proxies/<id:pk>/", proxies_api.ProxyDetailApi.as_view()),
    path("proxies/<id:pk>/start", proxies_api.ProxyStartApi.as_view()),
    path("proxies/<id:pk>/stop", proxies_api.ProxyStopApi.as_view()),
    path("proxies/<id:pk>/cache", proxies_api.ProxyCacheApi.as_view()),
    path("proxies/<id:pk>/cache/", cache_api.CacheEntryListApi.as_view()),
    path("proxies/<id:pk>/cache/export", cache_api.CacheExportApi.as_view()),
    path("proxies/<id:pk>/cache/import", cache_api.CacheImportApi.as_view()),
    path("proxies/<id:pk>/cache/<str:key>", cache_api.CacheEntryDetailApi.as_view()),
    path("proxies/<id:pk>/failures", proxies_api.ProxyFailuresApi.as_view()),
    path("proxies/<id:pk>/clone", proxies_api.ProxyCloneApi.as_view()),
    path("apply", proxies_api.ApplyApi.as_view()),
    path("logs/", logs_api.LogListApi.as_view()),
    path("logs/export", logs_api.LogExportApi.as_view()),
    path("metrics/", metrics_api.MetricsApi.as_view()),
    path("tls/ca.pem", tls_api.CaCertificateApi.as_view()),
    path("me/", accounts_api.MeApi.as_view()),
    path("tokens/", accounts_api.TokenListApi.as_view()),
    path("tokens/<id:pk>/", accounts_api.TokenDetailApi.as_view()),
    path("settings/", accounts_api.SiteSettingsApi.as_view()),
]

handler404 = "rubberduck_site.errors.not_found"
handler500 = "rubberduck_site.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz),
    path("metrics", prometheus.metrics_view),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Its init script is a file of its own (?script), not inline, so the page's CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("allauth.urls")),
    # Ours, ahead of allauth's (which only resends verification *codes*): see accounts/views.py.
    path("_allauth/<str:client>/v1/auth/email/verify/resend", accounts_views.resend_verification_email),
    path("_allauth/", include("allauth.headless.urls")),
    re_path(r"^(?!api/|admin/|static/|ws/|_allauth/|accounts/|healthz|metrics).*$", views.spa),
]
