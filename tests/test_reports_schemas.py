"""How a report is shown: the schema's direct dump, the bulk answer, and the documented list filters."""
from datetime import datetime, timezone

import marshmallow as ma
import pytest
from bson import ObjectId

from maiascore.errors import Conflict, Forbidden, Invalid, Unprocessable
from maiascore.reports.schemas import (LIST_FIELDS, BulkResult, CountSchema, ScoreReportCreatedSchema,
                                       ScoreReportSchema)

OWNER = {"id": 7, "username": "ada", "email": "ada@example.com", "provider": "local", "confirmed": True,
         "blocked": False, "role": {"id": 1, "name": "Account Admin",
                                    "description": "Every permission, Manage Users and Manage Trainings included",
                                    "type": "account_admin"}}
# The owner as ``service.with_owners`` sets it: the stored user, secrets included, and the caller's group.
STORED_OWNER = {"_id": 7, "username": "ada", "email": "ada@example.com", "password": "$2b$12$hash",
                "credentialEpoch": 3, "memberships": [{"aid": 4, "roleId": 1}, {"aid": 5, "roleId": 3}],
                "defaultAid": 5, "created_at": datetime(2024, 1, 1), "aid": 4}


def stored_report(**overrides):
    now = datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=timezone.utc)
    doc = {"_id": ObjectId(), "uuid": "u1", "referenceId": "r1", "type": "reference", "features": {"age": 41},
           "users_permissions_user": 7, "owner": STORED_OWNER, "status": "processed", "processed": True, "score": 702,
           "scoreProbability": 0.91, "scoreConfidence": 0.8, "scoreVersion": "3",
           "explanation": [{"feature": "age", "value": 41, "contribution": 0.12}], "warnings": ["w"],
           "error": None, "outcome": "good", "created_at": now, "updated_at": now, "published_at": now,
           "processed_at": now, "created_by": 7, "updated_by": 7}
    doc.update(overrides)
    return doc


@pytest.mark.parametrize("doc", [
    stored_report(),
    stored_report(owner=None, explanation=[], features={}, processed=False, status="queued", score=None,
                  processed_at=None),
    {"_id": ObjectId(), "status": "queued", "created_at": datetime(2020, 1, 1)},  # a sparse, older document
], ids=["processed", "queued", "sparse"])
def test_direct_dump_equals_marshmallows_generic_dump(doc):
    schema = ScoreReportSchema()
    generic = ma.Schema.dump(schema, doc)
    assert schema.dump(doc) == generic
    assert ScoreReportSchema(many=True).dump([doc, doc]) == [generic, generic]
    assert set(generic) == set(schema.fields)  # every field shown, missing ones with their default


def test_sparse_document_shows_defaults():
    shown = ScoreReportSchema().dump({"_id": ObjectId("0123456789abcdef01234567")})
    assert shown["id"] == "0123456789abcdef01234567"
    assert shown["type"] == "reference" and shown["processed"] is False
    assert shown["explanation"] == [] and shown["warnings"] == [] and shown["features"] == {}
    assert shown["users_permissions_user"] is None and shown["score"] is None and shown["created_at"] is None


def test_dumped_report_loads_back_through_the_documented_schema():
    shown = ScoreReportSchema().dump(stored_report())
    assert shown["created_at"] == "2024-05-01T12:30:15.123000+00:00"
    assert shown["users_permissions_user"] == OWNER
    ScoreReportSchema().load(shown)  # types, ISO datetimes, the nested user


def test_owner_is_shown_in_the_callers_group_and_without_secrets():
    owner = ScoreReportSchema(many=True).dump([stored_report(), stored_report()])[1]["users_permissions_user"]
    assert owner == OWNER  # the role in the caller's group (4), not the default one (5)
    assert ScoreReportSchema().dump(stored_report(owner={**STORED_OWNER, "aid": 5}))[
        "users_permissions_user"]["role"]["name"] == "Read Only"


def test_bulk_result_shows_each_item_error_with_its_status():
    items = [{"index": 0, "id": "abc"},
             {"index": 1, "error": Unprocessable("Request validation failed", errors={"uuid": ["Too long."]})},
             {"index": 2, "error": Invalid("Unknown report type 'x'; known types: reference")},
             {"index": 3, "error": Forbidden("Forbidden: no")},
             {"index": 4, "error": Conflict("A report with this uuid was being deleted; retry")}]
    shown = ScoreReportCreatedSchema().dump(BulkResult(items))
    assert shown["accepted"] == 1 and shown["rejected"] == 4
    assert shown["reports"][0] == {"index": 0, "id": "abc"}
    assert shown["reports"][1] == {"index": 1, "error": {"code": 422, "message": "Request validation failed",
                                                         "errors": {"uuid": ["Too long."]}}}
    assert [r["error"]["code"] for r in shown["reports"][2:]] == [400, 403, 409]
    assert "errors" not in shown["reports"][2]["error"]


def test_created_schema_shows_a_single_report_as_a_report_and_count_as_a_number():
    doc = stored_report()
    assert ScoreReportCreatedSchema().dump(doc) == ScoreReportSchema().dump(doc)
    assert CountSchema().dump(12) == 12


def test_openapi_documents_the_list_filters(client):
    spec = client.get("/openapi.json").get_json()
    listed = {p["name"]: p for p in spec["paths"]["/reports"]["get"]["parameters"]}
    assert {"_limit", "_start", "_sort", *LIST_FIELDS} <= set(listed)
    assert all(p["in"] == "query" and not p["required"] for p in listed.values())
    assert {"score_gte", "score_in", "score_null", "referenceId_contains", "referenceId_ncontainss",
            "_q"} <= set(listed)
    assert "processed_gt" not in listed  # no order on booleans
    assert listed["score_gte"]["schema"]["type"] == "integer" and listed["score_in"]["schema"]["type"] == "string"
    assert listed["processed"]["schema"]["type"] == "boolean"
    counted = {p["name"] for p in spec["paths"]["/reports/count"]["get"]["parameters"]}
    assert set(LIST_FIELDS) <= counted and "_limit" not in counted and "_q" in counted
    created = spec["paths"]["/reports"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/ScoreReport"}
    bulk = spec["paths"]["/reports/bulk"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert bulk == {"$ref": "#/components/schemas/ScoreReportBulkResult"}
    assert spec["paths"]["/reports/count"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "integer"}
