"""Rows and log records for tests, made with factory-boy: each factory fills what a test does not name."""

from __future__ import annotations

import time
from datetime import datetime

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.utils import timezone
from factory.django import DjangoModelFactory, Password

from logs.models import LogEntry
from logs.writer import LogWriter
from proxies.models import CacheEntry, Proxy
from proxies.records import LogRecord

PASSWORD = "correct-horse-battery"


class EmailAddressFactory(DjangoModelFactory):
    class Meta:
        model = EmailAddress

    email = factory.SelfAttribute("user.email")
    verified = True
    primary = True


class UserFactory(DjangoModelFactory):
    """A user who can sign in: PASSWORD and a verified primary email, as sign-up and `apitoken` leave them."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.SelfAttribute("email")
    password = Password(PASSWORD)
    email_address = factory.RelatedFactory(EmailAddressFactory, factory_related_name="user")


class ProxyFactory(DjangoModelFactory):
    """A proxy row nobody serves (desired stopped), so no runner picks it up."""

    class Meta:
        model = Proxy

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"proxy-{n}")
    provider = "openai"
    model_name = "gpt-4o-mini"
    port = factory.Sequence(lambda n: 41000 + n)
    desired_state = Proxy.Desired.STOPPED
    status = Proxy.Status.STOPPED


class LogEntryFactory(DjangoModelFactory):
    """A log entry inserted as a row (the writer's path is LogRecordFactory + write_logs)."""

    class Meta:
        model = LogEntry

    proxy = factory.SubFactory(ProxyFactory)
    timestamp = factory.LazyFunction(timezone.now)
    ip = "127.0.0.1"
    method = "POST"
    path = "/v1/chat/completions"
    status_code = 200
    latency_ms = 5.0
    cache = LogEntry.Cache.MISS
    prompt_hash = "p" * 64


class CacheEntryFactory(DjangoModelFactory):
    class Meta:
        model = CacheEntry

    proxy = factory.SubFactory(ProxyFactory)
    key = "k" * 64
    status = 200
    body = b"{}"


class LogRecordFactory(factory.Factory):
    """What a proxy hands the LogWriter for one request to `proxy` at `at` (a datetime or epoch seconds)."""

    class Meta:
        model = LogRecord

    class Params:
        proxy = factory.SubFactory(ProxyFactory)
        at = factory.LazyFunction(time.time)

    proxy_id = factory.SelfAttribute("proxy.id")
    owner_id = factory.SelfAttribute("proxy.owner_id")
    timestamp = factory.LazyAttribute(lambda o: o.at.timestamp() if isinstance(o.at, datetime) else o.at)
    ip = "127.0.0.1"
    method = "POST"
    path = "/v1/chat/completions"
    status_code = 200
    latency_ms = 12.5
    cache = "miss"


def write_logs(*records: LogRecord, writer: LogWriter | None = None) -> LogWriter:
    """Commits the records through the real LogWriter in one flush, as a proxy's requests reach the DB."""
    writer = writer or LogWriter()
    for record in records:
        writer.enqueue(record)
    writer.flush()
    return writer
