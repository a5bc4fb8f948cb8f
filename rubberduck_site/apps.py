from django.apps import AppConfig


class RubberduckSiteConfig(AppConfig):
    name = "rubberduck_site"

    def ready(self):
        from proxies import policy
        from rubberduck_site.upstream_policy import SitePolicies

        policy.install(SitePolicies())  # proxies follow the site settings, which they do not read themselves
