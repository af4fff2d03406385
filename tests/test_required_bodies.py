"""A body the OpenAPI document calls required is required: no body, or a JSON ``null``, answers 422 (400 on
/v6 and /v7) on every such operation, and nothing is created or changed."""
import re

import pytest

PATH_VALUE = "0123456789abcdef01234567"


def _collections(db):
    return {name: db[name].count_documents({}) for name in db.list_collection_names()}


def _required_body_operations(client):
    spec = client.get("/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("requestBody", {}).get("required"):
                kinds = {p["name"]: p["schema"].get("type") for p in item.get("parameters", []) + operation.get(
                    "parameters", []) if p["in"] == "path"}
                url = re.sub(r"\{([^}]+)\}", lambda m: "1" if kinds.get(m.group(1)) == "integer" else PATH_VALUE,
                             path)
                yield method, url, path


def test_every_required_body_is_required(client, admin, db):
    operations = list(_required_body_operations(client))
    assert len(operations) >= 20
    before = _collections(db)
    for method, url, template in operations:
        expected = {400} if template.startswith(("/v6", "/v7")) else {422}
        if template == "/datasets":  # a file upload: a body that is no CSV, multipart form nor reference
            expected = {415}
        for body in (None, "null"):
            kwargs = {"data": body, "content_type": "application/json"} if body else {}
            answer = admin._call(method, url, **kwargs)
            assert answer.status_code in expected, (method, template, body, answer.get_data(as_text=True))
            shape = {"status", "title", "detail"} if template.startswith("/v7") else {"code", "message"}
            assert set(answer.get_json()) >= shape, (template, answer.get_json())
    assert _collections(db) == before


def test_the_cases_found_by_hand(admin, db):
    r = admin.post("/reports?wait=0.0")
    assert r.status_code == 422 and r.get_json()["message"] == "A request body is required"
    report = admin.post("/reports", json={"uuid": "kept", "features": {"age": 3}}).get_json()
    assert admin.put(f"/reports/{report['id']}").status_code == 422
    assert admin.post("/users/me/tokens").status_code == 422
    assert admin.post("/trainings", data="null", content_type="application/json").status_code == 422
    assert admin.post("/reports", json=[]).status_code == 400
    assert admin.post("/reports/bulk", json={"uuid": "x"}).status_code == 422
    assert db.score_reports.count_documents({}) == 1 and db.api_tokens.count_documents({}) == 0
    assert db.trainings.count_documents({}) == 0


@pytest.mark.parametrize("url", [None, "https://evil.example/reset", ""])
def test_forgot_password_takes_any_url_and_ignores_it(client, url):
    r = client.post("/auth/forgot-password", json={"email": "nobody@example.com", "url": url})
    assert r.status_code == 200, r.get_json()


def test_a_training_body_may_be_left_out(admin, db):
    r = admin.post("/trainings")
    assert r.status_code == 200, r.get_json()
    assert db.trainings.count_documents({}) == 1
