"""Schema fuzzing: schemathesis against the app's own OpenAPI schema, over HTTP, on a real server and database.

Every operation is called with generated input as an admin, a moderator, a participant and anonymously, with
path ids often real (a seeded session, thread, post...) so requests get past the 404s. Checks: no 5xx, every
answer's status, content type, headers and body are the ones the schema documents.

Random, but the same in every run: pytest runs with `--hypothesis-seed=0` (pyproject `addopts`), so CI explores
the same cases each time; another seed explores others: `.venv/bin/pytest tests/security/test_fuzz.py
--hypothesis-seed=7`.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, settings
from hypothesis import core as hypothesis_core
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation

from deliberation import openapi
from deliberation.app import create_app
from deliberation.db.engine import create_engine, create_sessionmaker
from deliberation.settings import Settings
from tests.security.conftest import fresh_database, seed_world, services

MAX_EXAMPLES = 15  # per operation; the whole run stays within about a minute
FUZZ_ROLES = ("admin", "moderator", "participant", "anonymous")
REAL_IDS = {  # path parameter -> the world's ids it may take
    "session_id": ("session", "other_session"),
    "line_id": ("line",),
    "thread_id": ("thread",),
    "post_id": ("post",),
    "flag_id": ("flag",),
    "user_id": ("bystander",),
    "conclusion_id": ("draft_conclusion", "voting_conclusion", "adopted_conclusion"),
    "proposal_id": ("draft_proposal", "published_proposal", "endorsed_proposal"),
}


def served_schema() -> dict:
    """The schema the app serves, built without a database (routes and the schema's startup hooks need none)."""
    app = create_app(Settings(database_url="postgresql://unused@127.0.0.1/unused"))
    for hook in app.on_startup:
        if hook.__module__ == openapi.__name__:
            hook(app)
    return app.openapi_schema.to_schema()


SCHEMA = served_schema()
schema = schemathesis.openapi.from_dict(SCHEMA)
# The run's seed is pytest's `--hypothesis-seed` (0 through pyproject's addopts), so a run fuzzes the same cases
# as the last unless asked for another seed; schemathesis would otherwise draw a random one per process.
schema.config.seed = 0 if hypothesis_core.global_force_seed is None else hypothesis_core.global_force_seed
# Schemathesis generates no extra query parameters: `test_unknown_and_repeated_query_parameters_are_400_naming_them`
# adds its own to every `/api/...` operation, and expects exactly those refused.
schema.config.generation.update(max_examples=MAX_EXAMPLES, allow_extra_parameters=False)
# Schema-valid input may still be refused for what a schema cannot say: a cursor or reset token that is not
# ours (400, by the contract), a state or rule (409, 412, 422). Framework refusals (405, 413, 415, 428) fail.
schema.config.checks.positive_data_acceptance.expected_statuses = [
    "2XX",
    "400",
    "401",
    "403",
    "404",
    "409",
    "412",
    "422",
    "429",
]
# A body over DELIBERATION_MAX_BODY_BYTES is refused (413) before it is read, whatever it holds: a rejection of
# schema-violating input too (once a random run sent 1.2 MB of lone surrogates with `conclusion_ids: false`).
schema.config.checks.negative_data_rejection.expected_statuses = [
    *schema.config.checks.negative_data_rejection.expected_statuses,
    "413",
]


@pytest.fixture(scope="module")
async def fuzz_target(create_database):
    """One instance on a database of its own (fuzzed writes commit), with a seeded world."""
    async with (
        fresh_database(create_database) as url,
        services(url, post_rate_per_minute=1_000_000, conclusion_workers=False) as (service,),
    ):
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as db, httpx.AsyncClient(base_url=service.url) as client:
                assert (await client.get("/schema/openapi.json")).json() == SCHEMA
                world = await seed_world(db, client)
        finally:
            await engine.dispose()
        yield service, world


@schema.parametrize()
@schema.given(data=st.data())
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=MAX_EXAMPLES)
def test_every_operation_answers_as_documented(case, data, fuzz_target):
    service, world = fuzz_target
    real_ids(case, data, world)
    role = data.draw(st.sampled_from(FUZZ_ROLES))
    if case.path == "/api/auth/logout" or deliberately_invalid(case, ParameterLocation.HEADER):
        role = "anonymous"  # signing out would end the role's token; a case without valid auth stays so
    case.call_and_validate(base_url=service.url, headers=world.headers[role])


def real_ids(case, data, world) -> None:
    """Give the case's path parameters, unless generated to be invalid, often a real id of their kind (so the
    request gets past the 404)."""
    if not deliberately_invalid(case, ParameterLocation.PATH):
        for name, value in case.path_parameters.items():
            if name in REAL_IDS:
                ids = [value, *(world.ids[kind] for kind in REAL_IDS[name])]
                case.path_parameters[name] = data.draw(st.sampled_from(ids))


# A query parameter name: any text a URL can carry (no lone surrogates, which UTF-8 cannot encode).
PARAMETER_NAMES = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=24)


@schema.include(path_regex="^/api/").parametrize()
@schema.given(data=st.data())
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=MAX_EXAMPLES)
def test_unknown_and_repeated_query_parameters_are_400_naming_them(case, data, fuzz_target):
    """Any operation, any input, plus parameters it does not take and/or one of its own twice: 400 naming exactly
    those, before anything else is looked at (auth, path, body), never a 5xx."""
    service, world = fuzz_target
    assume(not deliberately_invalid(case, ParameterLocation.PATH))  # a path that routes: the check is per operation
    real_ids(case, data, world)
    operation = SCHEMA["paths"][case.path][case.method.lower()]
    known = sorted(p["name"] for p in operation.get("parameters", ()) if p["in"] == "query")
    unknown = data.draw(st.lists(PARAMETER_NAMES.filter(lambda name: name not in known), max_size=3, unique=True))
    repeated = data.draw(st.lists(st.sampled_from(known), max_size=2, unique=True)) if known else []
    if not unknown and not repeated:
        unknown = [data.draw(PARAMETER_NAMES.filter(lambda name: name not in known))]
    query = dict(case.query or {})
    for name in unknown:
        query[name] = data.draw(st.text(max_size=8))
    for name in repeated:
        query[name] = [str(query.get(name, "1")), data.draw(st.text(max_size=8))]
    generated, case.query = case.query, query
    try:
        response = case.call(base_url=service.url, headers=world.headers[data.draw(st.sampled_from(FUZZ_ROLES))])
    finally:
        case.query = generated  # as generated: hypothesis may run the case again
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.headers["content-type"] == ["application/problem+json"]
    # Negative cases may give a parameter of the operation an array or object too: sent once per item (key).
    sent = {name: list(value) if isinstance(value, (list, dict)) else [value] for name, value in query.items()}
    twice = sorted(name for name, values in sent.items() if name in known and len(values) > 1)
    fields = [error["field"] for error in response.json()["errors"]]
    assert fields == sorted(unknown) + twice and set(repeated) <= set(twice), response.text


def deliberately_invalid(case, location: ParameterLocation) -> bool:
    """Whether schemathesis generated this part of the request to violate the schema (a negative case)."""
    component = case.meta.components.get(location) if case.meta is not None else None
    return component is not None and component.mode == GenerationMode.NEGATIVE
