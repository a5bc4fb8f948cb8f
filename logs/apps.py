import sqlite3

from django.apps import AppConfig


class LogsConfig(AppConfig):
    name = "logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # sqlite3 binds a None only after its whole adaptation protocol has found nothing (a registry miss, then
        # two attribute lookups): ~0.25 µs a value, and a log row binds one to four. Registered, it is one
        # lookup and a call, and the row still stores NULL.
        sqlite3.register_adapter(type(None), lambda value: None)
