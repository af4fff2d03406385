"""GET /metrics: the Prometheus text format, read by prometheus_client's own parser, values moving as
requests are made; reachable with the scrape token or from loopback only; bounded labels."""
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from model_fixtures import german_rows, install_model


def scrape(client, **kwargs):
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(answer.get_data(as_text=True))


def samples(text):
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def total(found, name, **labels):
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


def test_values_move_as_requests_are_made(client, admin, live_worker, db):
    install_model(admin.aid)
    live_worker(queues=("scores",))
    before = scrape(client)
    route = {"route": "/reports/<report_id>", "method": "GET"}
    r = admin.post("/reports?wait=20", json={"features": german_rows(1)[0]})
    assert r.status_code == 200 and r.get_json()["status"] == "processed", r.get_json()
    report_id = r.get_json()["id"]
    assert admin.post("/reports/bulk", json=[{"features": row} for row in german_rows(3)]).status_code == 200
    for _ in range(3):
        assert admin.get(f"/reports/{report_id}").status_code == 200
    assert admin.get("/reports/0123456789abcdef01234567").status_code == 404
    assert admin.get(f"/reports/{report_id}", query_string={"aid": 999999}).status_code == 400

    after = scrape(client)
    moved = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert moved("maiascore_http_requests_total", status="200", **route) == 3
    assert moved("maiascore_http_requests_total", status="404", **route) == 1
    assert moved("maiascore_http_request_duration_seconds_count", **route) == 5
    assert moved("maiascore_reports_accepted_total", lane="single") == 1
    assert moved("maiascore_reports_accepted_total", lane="bulk") == 3
    assert total(after, "maiascore_queue_depth") >= 0 and ("maiascore_queue_depth", (("queue", "scores"),)) in after
    assert ("maiascore_queue_oldest_job_age_seconds", (("queue", "trainings"),)) in after
    assert value(after, "maiascore_waits_open") == 0
    # every label is a route template, a method, a status, a queue, a lane or a model version: never a path
    for (name, labels), _ in after.items():
        assert report_id not in str(labels) and "999999" not in str(labels), (name, labels)


def test_scoring_and_rate_limit_refusals_are_counted(app, client, admin, run_worker):
    install_model(admin.aid)
    before = scrape(client)
    assert admin.post("/reports/bulk", json=[{"features": row} for row in german_rows(4)]).status_code == 200
    run_worker(queues=("scores",))
    app.config["MAIASCORE"].RATE_LIMIT_PER_MINUTE = 1
    statuses = [admin.get("/reports/count").status_code for _ in range(3)]
    assert 429 in statuses
    after = scrape(client)
    assert value(after, "maiascore_rate_limit_refusals_total", route="/reports/count") - value(
        before, "maiascore_rate_limit_refusals_total", route="/reports/count") == statuses.count(429)
    # the worker is another process: without PROMETHEUS_MULTIPROC_DIR this process sees its own values only
    assert total(after, "maiascore_http_requests_total", status="429") >= statuses.count(429)


def test_only_the_scraper_may_read(app, client):
    app.config["MAIASCORE"].METRICS_TOKEN = "scrape-token-123"
    away = {"REMOTE_ADDR": "203.0.113.9"}
    refused = client.get("/metrics", environ_base=away)
    assert refused.status_code == 403 and set(refused.get_json()) == {"code", "message"}
    assert client.get("/metrics", environ_base=away,
                      headers={"Authorization": "Bearer wrong-token"}).status_code == 403
    assert client.get("/metrics", environ_base=away,
                      headers={"Authorization": "Bearer scrape-token-123"}).status_code == 200
    # loopback, but through a local proxy: someone else's request
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert client.get("/metrics").status_code == 200


def test_prometheus_accept_header_is_served(server):
    request = urllib.request.Request(f"{server}/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
        assert "maiascore_queue_depth{queue=\"scores\"}" in answer.read().decode()
