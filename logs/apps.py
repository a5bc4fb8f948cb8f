import sqlite3

from django.apps import AppConfig


class LogsConfig(AppConfig):
    name = "logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # sqlite3 binds None only after searching its whole adaptation protocol; registered, it is one lookup (D30).
        sqlite3.register_adapter(type(None), lambda value: None)
