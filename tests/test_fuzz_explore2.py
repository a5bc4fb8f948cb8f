import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application

pytestmark = pytest.mark.django_db(transaction=True)


def test_explore(api):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    sm = schema.as_state_machine()
    print([n for n in dir(sm) if not n.startswith("_")][:80])
    print(schema.statistic)
    for name in dir(sm):
        if "->" in name or "RANDOM" in name.upper():
            print(name)
