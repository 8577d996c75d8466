"""Fuzz the REST API from its own OpenAPI schema (schemathesis), in-process through the WSGI app.

Every operation of the schema gets generated requests, valid and invalid, as an analyst
(reads; writes refused) and as an admin (writes, imports), each with an API token; each
response must not be a 5xx, must have a status code the schema documents, and must match
the documented shape. The schema is generated at collection time (schemathesis makes one
test per operation then), and a first test checks it is the one /api/schema/ serves.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis import checks

from accounts.models import ApiToken
from config.wsgi import application

# Generated requests per operation and phase: enough to hit empty, huge, odd-unicode and
# wrong-type values on every field, few enough to keep the whole fuzz near a minute.
MAX_EXAMPLES = 8

CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.response_schema_conformance]

SPEC = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(SPEC)
schema.app = application  # requests go to the WSGI app in this process, as from_wsgi() sets it


@pytest.fixture
def _same_connection():
    """Keep the test's database connection across in-process requests, as Django's test client does.

    A WSGI request closes connections that are not in autocommit; inside the test's
    transaction that would be every request.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["alice", "adam"])
def token_headers(request, _same_connection, taxonomy, make_incident):
    """An analyst's (alice) or an admin's (adam) token, with an incident and a taxonomy to find."""
    user = request.getfixturevalue(request.param)
    make_incident(title="Chat completions time out", updates=[("identified", 4, "Alerts on p99 latency.")])
    _, key = ApiToken.issue(user, "fuzz")
    return {"Authorization": f"Token {key}"}


def test_the_fuzzed_schema_is_the_served_one(token_headers):
    served = schemathesis.openapi.from_wsgi("/api/schema/", application, headers=token_headers)
    assert served.raw_schema == schema.raw_schema


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_every_generated_request_as_documented(case, token_headers):
    case.call_and_validate(headers=token_headers, checks=CHECKS)
