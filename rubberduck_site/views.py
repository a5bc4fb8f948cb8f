from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import ensure_csrf_cookie

from proxies.models import Proxy
from proxies.runner import local_runner
from rubberduck_site import csp

HEALTH_WAIT = 1.0  # seconds /healthz waits for a pooled database connection


def healthz(request):
    """200 while this process can answer its API, else 503; `status` says "degraded" as well when its log writer
    cannot write or is dropping entries: its proxies still serve then, and taking the process out of a load
    balancer would not bring the database back (D73)."""
    try:
        database_answers()
        database = "ok"
    except Exception:
        database = "error"
        connection.close()  # reconnect on the next call (PostgreSQL restarted)
    running = Proxy.objects.filter(status=Proxy.Status.RUNNING).count() if database == "ok" else 0
    body = {"version": settings.VERSION, "database": database, "running_proxies": running}
    runner = local_runner()
    logs = "ok"
    if runner is not None:
        writer = runner.writer.state()
        logs = "dropping" if writer["overflowing"] else "failing" if writer["failing"] else "ok"
        body["logs"] = {"state": logs, **{k: writer[k] for k in ("queued", "limit", "written", "dropped")}}
    body = {"status": "ok" if database == "ok" and logs == "ok" else "degraded", **body}
    return JsonResponse(body, status=200 if database == "ok" else 503)


def database_answers() -> None:
    """One round trip, or an exception. PostgreSQL's pool would wait its whole timeout for a connection while the
    database is down; a health check waits a second at most."""
    pool = getattr(connection, "pool", None)
    if pool is None:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return
    pool.open()
    with pool.connection(timeout=HEALTH_WAIT) as conn:
        conn.execute("SELECT 1")


@ensure_csrf_cookie
def spa(request, path=""):
    """The React app's index.html for every non-API path; the app routes on the client."""
    index = settings.FRONTEND_DIST / "index.html"
    if not index.exists():
        return HttpResponse(
            "<h1>Rubberduck</h1><p>The frontend is not built yet: run <code>make run</code>.</p>", status=503
        )
    # A plain response: index.html is small, and a file stream would be consumed synchronously under ASGI.
    response = HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")
    response[csp.HEADER] = csp.app_policy(request)
    return response
