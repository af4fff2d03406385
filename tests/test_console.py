"""The console at /app, in a real browser: Debian's Chromium driven by Playwright.

Each test runs the app in a real HTTP server (werkzeug, threaded) over the test's own
database, with real ``rq`` workers where scoring or training happens. A test fails on any
console error, page error, failed request or unexpected HTTP error, and on failure saves a
screenshot next to its logs. With ``CONSOLE_SCREENSHOTS=docs/screenshots`` the pages the docs
show are written there (that is how the committed ones were made).
"""
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from bson import ObjectId

from conftest import wait_until
from maiascore.accounts.permissions import ROLE_IDS
from maiascore.alerts import evaluation
from model_fixtures import german_rows, install_model

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "maiascore" / "modeling" / "data" / "germancredit.csv"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ZONE = "Europe/Paris"
XSS = "<img src=x onerror=alert(1)>"
expect = playwright_sync.expect
expect.set_options(timeout=20000)


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


class Console:
    """One browser tab on the console, recording everything that went wrong in it."""

    def __init__(self, page, base, shots):
        self.page, self.base, self.shots = page, base, shots
        self.problems = []
        self.allowed_statuses = set()
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def _console(self, message):
        if message.type != "error":
            return
        text = message.text
        if "Failed to load resource" in text and any(f"status of {s}" in text for s in self.allowed_statuses):
            return
        self.problems.append(f"console error: {text}")

    def _request_failed(self, request):
        failure = request.failure or ""
        if "ERR_ABORTED" in failure and request.resource_type == "fetch":
            return  # a fetch abandoned by navigating away (e.g. a ?wait=10 poll), not a failure
        self.problems.append(f"request failed: {request.method} {request.url} {failure}")

    def _response(self, response):
        if response.status >= 400 and response.status not in self.allowed_statuses:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def _dialog(self, dialog):
        self.problems.append(f"unexpected dialog: {dialog.message}")
        dialog.dismiss()

    def check(self):
        problems, self.problems = self.problems, []
        assert not problems, "\n".join(problems)

    def go(self, fragment):
        self.page.goto(f"{self.base}/app#{fragment}")

    def sign_in(self, actor):
        self.go("/dashboards")
        self.page.get_by_label("Email or username").fill(actor.email)
        self.page.get_by_label("Password").fill(actor.password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#who")).to_contain_text(actor.user["username"])

    def shot(self, name):
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def series(self, widget_id):
        """The data of every series ECharts holds for a widget's chart."""
        return self.page.evaluate(
            """(id) => {
                const box = document.querySelector(`[data-widget-id="${id}"] .chart`);
                const chart = box && echarts.getInstanceByDom(box);
                return chart ? chart.getOption().series.map((s) => s.data) : null;
            }""", widget_id)


@pytest.fixture
def ui(browser, server, request, tmp_path):
    target = os.environ.get("CONSOLE_SCREENSHOTS")
    shots = (ROOT / target) if target else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id=ZONE, locale="en-US",
                                  accept_downloads=True)
    context.set_default_timeout(20000)
    page = context.new_page()
    console = Console(page, server, shots)
    failed_before = request.session.testsfailed
    yield console
    if request.session.testsfailed > failed_before:
        path = tmp_path / f"{request.node.name}-failure.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the failure: {path}")
    context.close()


def _score_reports(actor, rows, reference="applicant"):
    ids = []
    for n, features in enumerate(rows):
        r = actor.post("/reports?wait=20", json={"referenceId": f"{reference}-{n}", "features": features})
        assert r.status_code == 200 and r.get_json()["status"] == "processed", r.get_json()
        ids.append(r.get_json()["id"])
    return ids


def _counted(actor, n):
    """Waits until widget data counts ``n`` reports: a range ends at the current whole second
    (``parse_time_range`` drops microseconds), so reports of the last second join a moment later."""
    overview = next(r for r in actor.get("/v6/reports").get_json() if r["title"] == "Scoring overview")

    def count():
        data = actor.get(f"/v6/reports/{overview['reportId']}/sotot?window=1d").get_json()
        return next(d["value"] for d in data["reportDataComponentData"]["data"] if d["cardId"] == "socnt") == n

    assert wait_until(count, timeout=10)


def test_scoring_overview_draws_every_widget_with_the_api_data(ui, admin, app, live_worker):
    with app.app_context():
        install_model(admin.aid)
    live_worker()
    _score_reports(admin, german_rows(6))
    bad = dict(german_rows(1)[0], credit_amount="not a number")
    admin.post("/reports?wait=20", json={"referenceId": "broken", "features": bad})
    _counted(admin, 7)

    ui.sign_in(admin)
    page = ui.page
    expect(page.locator("#zone")).to_have_text(f"Times in {ZONE}")
    row = page.locator("tr", has=page.get_by_role("link", name="Scoring overview"))
    expect(row.locator(".badge.builtin")).to_have_text("Built-in")
    row.get_by_role("link", name="Scoring overview").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Scoring overview")
    expect(page.locator("main")).to_have_attribute("data-loaded", "1")

    report_id = re.search(r"#/dashboards/(\w+)", page.url).group(1)
    widgets = admin.get(f"/v6/reports/{report_id}").get_json()["widgets"]
    assert len(widgets) == 6
    for widget in widgets:
        frame = page.locator(f'[data-widget-id="{widget["id"]}"]')
        expect(frame).to_have_attribute("data-state", "drawn")
        component = admin.get(f"/v6/reports/{report_id}/{widget['id']}?window=1d").get_json()["reportDataComponentData"]
        data = component["data"]
        assert data, widget["title"]
        kind = widget["type"]
        if kind == "Number":
            cards = frame.locator(".number-card")
            expect(cards).to_have_count(len(widget["numberCards"]))
            for card in widget["numberCards"]:
                datum = next(d for d in data if d["cardId"] == card["id"])
                shown = frame.locator(f'[data-card-id="{card["id"]}"] .card-value').inner_text().replace(",", "")
                assert float(shown) == pytest.approx(datum["value"], abs=0.01), card
        elif kind == "Table":
            expect(frame.locator("tbody tr")).to_have_count(len(data))
            labels = {m["groupId"]: m["groupLabel"] for m in component["groupLabelMaps"][0]["groupLabels"]}
            assert frame.locator("tbody th").all_inner_texts() == [labels[d["groups"][0]["groupId"]] for d in data]
        elif kind == "Box and Whiskers":
            (boxes,) = ui.series(widget["id"])
            assert boxes == [[d["distribution"][k] for k in ("minimum", "q1", "median", "q3", "maximum")]
                             for d in data]
        else:  # binned: one point per datum, at its bin, with its value and count
            drawn = sorted(tuple(point) for series in ui.series(widget["id"]) for point in series)
            assert drawn == sorted((d["binId"] * 1000, d["value"], d["count"]) for d in data), widget["title"]
        expect(frame.locator(".widget-meta")).to_contain_text("bins of 5 min" if kind.startswith(("Bar", "Time"))
                                                              else "over 1 d")
    ui.shot("dashboard-scoring-overview")

    page.get_by_label("Time range").select_option("30d")
    expect(page.locator("main")).to_have_attribute("data-loaded", "2")
    expect(page.locator('[data-widget-id="sorph"] .widget-meta')).to_contain_text("bins of 2 h")

    page.set_viewport_size({"width": 420, "height": 900})
    expect(page.locator('[data-widget-id="sorph"] .chart')).to_be_visible()
    ui.shot("dashboard-narrow")
    ui.check()


def test_regular_user_creates_a_dashboard_with_two_widgets_and_a_snapshot(ui, make_actor, app, live_worker):
    admin = make_actor("Account Admin")
    user = make_actor("Regular User", aid=admin.aid)
    with app.app_context():
        install_model(admin.aid)
    live_worker()
    _score_reports(admin, german_rows(4))
    _counted(admin, 4)
    theirs = admin.post("/v6/reports/create", json={"title": "Admin's board", "widgets": []}).get_json()[0]

    ui.sign_in(user)
    page = ui.page
    others = page.locator(f'tr[data-report-id="{theirs["reportId"]}"]')
    expect(others).to_be_visible()
    expect(others.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
    expect(others.get_by_role("link", name=re.compile("Edit"))).to_have_count(0)

    page.get_by_role("link", name="New dashboard").click()
    page.get_by_label("Title", exact=True).fill("Risk desk")
    page.get_by_role("button", name="Add widget").click()
    first = page.locator("fieldset.widget-editor").nth(0)
    first.get_by_label("Type").select_option("Pie Chart")
    first.get_by_label("Title").fill("Reports by status")
    first.get_by_label("Metric").select_option("Report Count")
    expect(first.get_by_label("Measure")).to_be_hidden()
    first.get_by_label("Group by").select_option("Status")
    statuses = first.locator('fieldset.filter[data-property="Status"] input[type=checkbox]')
    options = admin.get("/v6/widget-options").get_json()
    reports_source = next(s for s in options["dataSources"] if s["name"] == "Score Reports")
    offered = next(f["values"] for f in reports_source["filters"] if f["property"] == "Status")
    assert [statuses.nth(n).get_attribute("value") for n in range(statuses.count())] == offered
    first.get_by_role("checkbox", name="processed", exact=True).check()
    page.get_by_role("button", name="Add widget").click()
    second = page.locator("fieldset.widget-editor").nth(1)
    second.get_by_label("Type").select_option("Time Series: Line")
    second.get_by_label("Title").fill("Score p0")
    second.get_by_label("Metric").select_option("Score")
    second.get_by_label("Measure").select_option("nth Percentile")
    second.get_by_label("Percentile (0–100]").fill("0")

    ui.allowed_statuses = {400}
    page.get_by_role("button", name="Create dashboard").click()
    percentile = second.get_by_label("Percentile (0–100]")
    expect(second.locator(f'#{percentile.get_attribute("id")}-error')).to_contain_text("percentileValue must be above 0")
    expect(percentile).to_have_attribute("aria-invalid", "true")
    ui.check()
    ui.allowed_statuses = set()
    second.get_by_label("Title").fill("Score p90")
    second.get_by_label("Percentile (0–100]").fill("90")
    ui.shot("dashboard-editor")
    page.get_by_role("button", name="Create dashboard").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Risk desk")
    expect(page.locator("main")).to_have_attribute("data-loaded", "1")
    frames = page.locator("section.widget")
    expect(frames).to_have_count(2)
    for n in range(2):
        expect(frames.nth(n)).to_have_attribute("data-state", "drawn")
    pie_id, line_id = (frames.nth(n).get_attribute("data-widget-id") for n in range(2))
    saved_id = re.search(r"#/dashboards/(\w+)", page.url).group(1)
    saved = user.get(f"/v6/reports/{saved_id}").get_json()["widgets"]
    assert saved[0]["filters"] == {"Status": ["processed"]} and "filters" not in saved[1]
    assert [[item["value"] for item in series] for series in ui.series(pie_id)] == [[4]]
    assert sum(len(series) for series in ui.series(line_id)) >= 1
    expect(page.get_by_role("link", name="Edit dashboard")).to_be_visible()

    page.get_by_role("button", name="Take snapshot").click()
    snapshot = page.locator(".snapshot-list a").first
    expect(snapshot).to_contain_text("Risk desk")
    ui.shot("dashboard-custom")
    snapshot.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Risk desk")
    expect(page.locator("section.widget[data-state=drawn]")).to_have_count(2)
    ui.check()


def test_post_a_report_from_the_form_and_see_it_scored(ui, admin, app, live_worker):
    with app.app_context():
        install_model(admin.aid)
    live_worker()
    _score_reports(admin, german_rows(25)[1:], reference="earlier")

    ui.sign_in(admin)
    page = ui.page
    ui.go("/reports")
    expect(page.locator("table.reports tbody tr")).to_have_count(20)
    expect(page.locator(".pager")).to_contain_text("1–20 of 24")
    ui.shot("reports-list")
    page.get_by_role("button", name="Next page").click()
    expect(page.locator("table.reports tbody tr")).to_have_count(4)

    page.get_by_role("link", name="New report").click()
    form = page.locator("form.report-form")  # the list's own "Reference" controls stay until the form replaces them
    form.get_by_label("Reference", exact=True).fill("walk-in 7")
    for name, value in german_rows(1)[0].items():
        control = page.locator(f'[name="{name}"]')
        if control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(str(value))
    page.get_by_role("button", name="Score this report").click()

    detail = page.locator(".report-detail")
    expect(detail).to_have_attribute("data-status", "processed", timeout=30000)
    expect(page.locator(".reference")).to_have_text("walk-in 7")
    report = admin.get("/reports?referenceId=walk-in%207").get_json()[0]
    expect(page.locator(".score")).to_have_text(str(report["score"]))
    (bars,) = page.evaluate("() => echarts.getInstanceByDom(document.querySelector('.explanation .chart'))"
                            ".getOption().series.map((s) => s.data.map((d) => d.value))")
    assert sorted(bars) == sorted(e["contribution"] for e in report["explanation"])
    ui.shot("report-detail")

    page.get_by_label("Outcome").select_option("bad")
    page.get_by_role("button", name="Record outcome").click()
    expect(page.locator(".facts")).to_contain_text("bad")
    assert admin.get(f"/reports/{report['id']}").get_json()["outcome"] == "bad"
    page.get_by_role("button", name="Rescore with the active model").click()
    expect(detail).to_have_attribute("data-status", "processed", timeout=30000)

    ui.go("/reports?status=processed&scoreMin=0&reference=walk")
    expect(page.locator("table.reports tbody tr")).to_have_count(1)
    expect(page.get_by_label("Reference contains")).to_have_value("walk")
    ui.check()


def test_upload_a_dataset_train_watch_progress_and_activate(ui, admin, app, live_worker, db):
    with app.app_context():
        install_model(admin.aid)
    live_worker()
    ui.sign_in(admin)
    page = ui.page
    ui.go("/trainings")

    ui.allowed_statuses = {400}
    page.locator("#dataset-file").set_input_files(files=[{"name": "tiny.csv", "mimeType": "text/csv",
                                                          "buffer": b"a,b,target\n1,2,good\n"}])
    page.get_by_role("button", name="Upload dataset").click()
    expect(page.locator("#upload-error")).not_to_be_empty()
    ui.check()
    ui.allowed_statuses = set()

    page.locator("#dataset-file").set_input_files(str(SAMPLE_CSV))
    page.get_by_role("button", name="Upload dataset").click()
    dataset_row = page.locator("table.datasets tbody tr").first
    expect(dataset_row).to_contain_text("germancredit.csv")
    expect(dataset_row).to_contain_text("1,000")
    dataset_row.locator("summary").click()
    expect(dataset_row.locator(".columns-list li").first).to_contain_text("categorical")

    page.get_by_label("Boosting rounds").fill("150")
    page.get_by_label("Activate the new model").select_option("never")
    page.get_by_role("button", name="Launch training").click()
    row = page.locator("table.trainings tbody tr").first
    expect(row).to_have_attribute("data-status", re.compile("queued|running|succeeded"))
    row.get_by_role("link").click()

    seen = []

    def finished():
        value = page.locator(".training-detail progress").get_attribute("value")
        if value is not None and (not seen or seen[-1] != int(value)):
            seen.append(int(value))
        return page.locator(".training-detail").get_attribute("data-status") in ("succeeded", "failed")

    assert wait_until(finished, timeout=90, interval=0.05)
    assert page.locator(".training-detail").get_attribute("data-status") == "succeeded"
    finished()
    assert seen[-1] == 100 and seen == sorted(seen), seen
    expect(page.locator(".progress-text")).to_have_text("100%")
    expect(page.locator("table.confusion")).to_be_visible()
    expect(page.locator(".metrics")).to_contain_text("AUC")
    training_id = re.search(r"#/trainings/(\w+)", page.url).group(1)
    if not admin.get(f"/trainings/{training_id}").get_json()["meta"]["metrics"].get("roc"):
        # Until the API computes it, a stored curve stands in for it.
        curve = [{"fpr": 0.0, "tpr": 0.0, "threshold": 1.0}, {"fpr": 0.1, "tpr": 0.6, "threshold": 0.8},
                 {"fpr": 0.3, "tpr": 0.85, "threshold": 0.5}, {"fpr": 1.0, "tpr": 1.0, "threshold": 0.0}]
        db.trainings.update_one({"_id": ObjectId(training_id)}, {"$set": {"meta.metrics.roc": curve}})
        page.reload()
    roc = admin.get(f"/trainings/{training_id}").get_json()["meta"]["metrics"]["roc"]
    expect(page.locator(".roc-section .chart")).to_be_visible()
    drawn = page.evaluate("() => echarts.getInstanceByDom(document.querySelector('.roc-section .chart'))"
                          ".getOption().series.map((s) => s.data)")
    assert sorted(map(tuple, drawn[0])) == sorted((p["fpr"], p["tpr"]) for p in roc)
    ui.shot("training-detail")

    db.trainings.update_one({"_id": ObjectId(training_id)}, {"$unset": {"meta.metrics.roc": ""}})
    page.reload()
    expect(page.locator("table.confusion")).to_be_visible()
    expect(page.locator(".roc-section")).to_have_count(0)
    ui.check()

    ui.go("/trainings")
    expect(page.locator("table.trainings tbody tr").first).to_have_attribute("data-status", "succeeded")
    ui.shot("trainings")

    ui.go("/models")
    expect(page.locator("table.registry thead th")).to_have_count(3)
    ui.shot("models")
    page.get_by_role("button", name="Activate v2").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Model v2 will score")
    dialog.get_by_role("button", name="Cancel").click()
    assert admin.get("/models/active").get_json()["version"] == "1"
    page.get_by_role("button", name="Activate v2").click()
    page.get_by_role("dialog").get_by_role("button", name="Activate v2").click()
    expect(page.get_by_role("button", name="Roll back to v1")).to_be_visible()
    assert admin.get("/models/active").get_json()["version"] == "2"

    with page.expect_download() as download:
        page.get_by_role("button", name="Download v2").click()
    assert download.value.suggested_filename == "model-v2.ubj"
    ui.check()


def test_model_health_dashboard_draws_psi_calibration_and_the_challenger(ui, make_actor, app, run_worker, db):
    from maiascore.modeling import load_sample
    from maiascore.monitoring import baselines
    from model_fixtures import TARGET, trained_model

    admin = make_actor("Account Admin")
    reader = make_actor("Read Only", aid=admin.aid)
    with app.app_context():
        champion = install_model(admin.aid)
        contender = install_model(admin.aid, activate=False, rounds=5)
        for doc, rounds in ((champion, 20), (contender, 5)):
            baselines.save(admin.aid, doc["version"], baselines.from_training(
                trained_model(rounds), load_sample("german-credit"), TARGET, {}))
    assert admin.put("/models/challenger", json={"version": contender["version"]}).status_code == 200
    rows = german_rows(400)  # the sample's first rows: their personal_status_and_sex already drifts
    for row in rows[:200]:
        row["age_in_years"] = str(float(row["age_in_years"]) + 40)  # a drifted population
    labels = [r["creditability"] for r in load_sample("german-credit").rows]
    body = [{"referenceId": f"a{i}", "features": row, "outcome": labels[i % len(labels)]} for i, row in enumerate(rows)]
    assert admin.post("/reports", json=body).get_json()["accepted"] == 400
    run_worker(queues=("scores",))
    health = admin.get("/models/active/monitoring").get_json()
    assert health["count"] == 400 and health["comparisons"][0]["count"] == 400

    ui.sign_in(reader)
    page = ui.page
    page.get_by_role("link", name="Model health").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Model health")
    expect(page.locator("main")).to_have_attribute("data-loaded", "1")
    report_id = re.search(r"#/dashboards/(\w+)", page.url).group(1)
    for widget in admin.get(f"/v6/reports/{report_id}").get_json()["widgets"]:
        expect(page.locator(f'[data-widget-id="{widget["id"]}"]')).to_have_attribute("data-state", "drawn")
    detail = page.locator("section.model-health")
    expect(detail).to_have_attribute("data-state", "drawn")
    expect(detail).to_have_attribute("data-version", champion["version"])
    bars = page.evaluate("""() => {
        const chart = echarts.getInstanceByDom(document.querySelector('.psi-section .chart'));
        const s = chart.getOption().series[0];
        return {names: chart.getOption().yAxis[0].data, values: s.data.map((d) => d.value),
                lines: s.markLine.data.map((d) => d.xAxis)};
    }""")
    expected = {f["feature"]: f["value"] for f in health["features"] if f["value"] is not None}
    assert dict(zip(bars["names"], bars["values"])) == pytest.approx(expected)
    assert bars["lines"] == [0.1, 0.25] and bars["names"][-1] == health["features"][0]["feature"]  # worst on top
    calibration = page.evaluate("""() => echarts.getInstanceByDom(document.querySelector('.calibration-section .chart'))
        .getOption().series[0].data""")
    assert calibration == [[b["predictedBadRate"], b["observedBadRate"]]
                           for b in health["performance"]["calibration"]["bands"]]
    expect(detail.locator("table.challenger tbody tr")).to_have_count(1)
    expect(detail.locator("table.challenger tbody th")).to_have_text(f"v{contender['version']}")
    ui.shot("dashboard-model-health")
    ui.check()


def test_read_only_user_is_offered_no_edit_controls(ui, make_actor, app):
    admin = make_actor("Account Admin")
    reader = make_actor("Read Only", aid=admin.aid)
    with app.app_context():
        install_model(admin.aid)
        install_model(admin.aid, activate=False)
    board = admin.post("/v6/reports/create", json={"title": "Shared board", "widgets": [
        {"type": "Number", "title": "Volume", "dataSource": "Score Reports", "metric": "Report Count"}]}).get_json()[0]
    admin.post("/reports", json={"referenceId": "one", "features": german_rows(1)[0]})

    ui.sign_in(reader)
    page = ui.page
    expect(page.locator("table.list tbody tr")).to_have_count(4)
    main = page.locator("main")
    edit_words = re.compile(r"New|Edit|Delete|Snapshot|Activate|Roll back|Upload|Launch|Record|Rescore", re.I)

    def no_edit_controls():
        expect(main.get_by_role("button", name=edit_words)).to_have_count(0)
        expect(main.get_by_role("link", name=edit_words)).to_have_count(0)

    no_edit_controls()
    ui.go(f"/dashboards/{board['reportId']}")
    expect(page.locator("section.widget[data-state=drawn]")).to_have_count(1)
    no_edit_controls()
    ui.go("/reports")
    expect(page.locator("table.reports tbody tr")).to_have_count(1)
    no_edit_controls()
    page.locator("table.reports a").first.click()
    expect(page.locator(".report-detail")).to_be_visible()
    no_edit_controls()
    ui.go("/trainings")
    expect(page.get_by_role("heading", name="Trainings", level=2)).to_be_visible()
    no_edit_controls()
    ui.go("/models")
    expect(page.locator("table.registry")).to_be_visible()
    expect(main.get_by_role("button", name=re.compile("Download"))).to_have_count(2)
    no_edit_controls()
    ui.go(f"/dashboards/{board['reportId']}/edit")
    expect(main).to_contain_text("You cannot edit this dashboard")
    ui.check()


def _focused(page):
    return page.evaluate("() => { const el = document.activeElement;"
                         " return el ? (el.getAttribute('name') || el.textContent.trim()) : null; }")


def _tab_to(page, text, limit=20):
    """Presses Tab until the focused element is ``text``; the order is the page's own."""
    path = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        path.append(_focused(page))
        if path[-1] == text:
            return path
    raise AssertionError(f"Tab never reached {text!r}: {path}")


def test_keyboard_alone_signs_in_and_walks_the_navigation(ui, admin):
    page = ui.page
    ui.go("/dashboards")
    expect(page.get_by_label("Email or username")).to_be_focused()
    page.keyboard.type(admin.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(admin.password)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#who")).to_contain_text(admin.user["username"])
    expect(page.get_by_role("heading", name="Dashboards", level=1)).to_be_visible()
    expect(page.locator("main")).to_be_focused()  # not lost with the sign-in button
    assert _tab_to(page, "New dashboard", limit=1)

    page.reload()  # Tab order from the top of the page
    expect(page.get_by_role("heading", name="Dashboards", level=1)).to_be_visible()
    assert _tab_to(page, "Skip to content", limit=1) == ["Skip to content"]
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    assert page.url.endswith("#/dashboards")

    page.reload()
    expect(page.get_by_role("heading", name="Dashboards", level=1)).to_be_visible()
    path = _tab_to(page, "Score reports")
    assert path == ["Skip to content", "MaiaScore", "Dashboards", "Score reports"], path
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Score reports", level=1)).to_be_visible()
    expect(page.locator('#nav a[aria-current="page"]')).to_have_text("Score reports")
    page.keyboard.press("Tab")
    assert _focused(page) == "Trainings"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Trainings", level=1)).to_be_visible()
    _tab_to(page, "Sign out")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Email or username")).to_be_focused()
    ui.check()


def test_a_user_in_two_groups_picks_the_group_and_gets_its_role(ui, make_actor, db):
    home = make_actor("Account Admin", group_name="Home desk")
    away_admin = make_actor("Account Admin", group_name="Away desk")
    db.users.update_one({"_id": home.id}, {"$push": {"memberships": {"aid": away_admin.aid,
                                                                       "roleId": ROLE_IDS["Read Only"]}}})
    home.post("/v6/reports/create", json={"title": "Home board", "widgets": []})
    away_admin.post("/v6/reports/create", json={"title": "Away board", "widgets": []})

    ui.sign_in(home)
    page = ui.page
    picker = page.get_by_label("Account group")
    expect(picker).to_be_visible()
    expect(picker.locator("option")).to_have_count(2)
    expect(picker).to_have_value(str(home.aid))
    expect(page.locator("#who")).to_contain_text("Account Admin")
    expect(page.get_by_role("link", name="Home board", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Away board", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="New dashboard")).to_be_visible()
    expect(page.get_by_role("link", name="Edit Home board")).to_be_visible()

    picker.select_option(str(away_admin.aid))
    expect(page.locator("#who")).to_contain_text("Read Only")
    expect(page.get_by_role("link", name="Away board", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Home board", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="New dashboard")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Delete"))).to_have_count(0)
    assert page.evaluate("() => sessionStorage.getItem('maiascore.aid')") == str(away_admin.aid)

    picker.select_option(str(home.aid))
    expect(page.locator("#who")).to_contain_text("Account Admin")
    expect(page.get_by_role("link", name="New dashboard")).to_be_visible()
    ui.check()


def test_values_from_the_api_are_shown_as_text(ui, admin):
    r = admin.post("/reports", json={"referenceId": XSS, "features": german_rows(1)[0]})
    assert r.status_code == 200
    admin.post("/v6/reports/create", json={"title": XSS, "description": XSS, "widgets": []})

    ui.sign_in(admin)
    page = ui.page
    expect(page.get_by_role("link", name=XSS, exact=True)).to_be_visible()
    ui.go("/reports")
    expect(page.locator("table.reports tbody a")).to_have_text(XSS)
    page.locator("table.reports tbody a").click()
    expect(page.locator(".reference")).to_have_text(XSS)
    assert page.locator("main img").count() == 0
    assert page.evaluate("() => sessionStorage.getItem('maiascore.jwt') !== null && localStorage.length === 0")
    ui.check()


def test_console_is_served_with_a_strict_policy(client):
    page = client.get("/app")
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = page.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1)
    assert script_src.strip() == "'self'" and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy and page.headers["X-Frame-Options"] == "DENY"
    assert b"<script>" not in page.data and b"http" not in page.data.replace(b"http-equiv", b"")
    chart = client.get("/app/static/vendor/echarts.min.js")
    assert chart.status_code == 200 and chart.mimetype in ("text/javascript", "application/javascript")
    assert client.get("/app/static/../routes.py").status_code == 404
    assert client.get("/app/static/js/nope.js").status_code == 404
    assert "/app" not in json.dumps(client.get("/openapi.json").get_json()["paths"])


def test_alerts_page_lists_active_and_recent_alerts_and_widgets_show_their_rules(ui, admin, app, db):
    overview = next(r for r in admin.get("/v6/reports").get_json() if r["title"] == "Scoring overview")
    widget = admin.get(f"/v6/reports/{overview['reportId']}").get_json()["widgets"][0]
    rule = {"ruleName": "Failure rate on the overview", "expression": "((failureRate >= 10%))", "alertType": "api",
            "roundsViolatingOutOf": 1, "severity": "critical",
            "maiascore": {"windowSeconds": 3600, "dashboardId": overview["reportId"], "widgetId": widget["id"]}}
    assert admin.post("/v7/alerts/rules", json=rule).status_code == 201
    quiet = {"ruleName": "Slow scoring", "expression": "((processingTime > 30))", "alertType": "api",
             "roundsViolatingOutOf": 1, "severity": "minor", "maiascore": {"windowSeconds": 600}}
    assert admin.post("/v7/alerts/rules", json=quiet).status_code == 201
    now = datetime.now(timezone.utc)
    tick = int(now.timestamp() // 60)
    db.score_reports.insert_many(
        [{"aid": admin.aid, "status": "failed" if n < 3 else "processed", "type": "reference",
          "referenceId": f"r{n}", "created_at": now - timedelta(minutes=70 + n),
          "processed_at": now - timedelta(minutes=70 + n) + timedelta(seconds=45)} for n in range(8)]
        + [{"aid": admin.aid, "status": "failed", "type": "reference", "referenceId": f"late{n}",
            "created_at": now - timedelta(minutes=5 + n)} for n in range(2)])
    with app.app_context():
        evaluation.evaluate_group(admin.aid, tick - 60, 60)  # the slow reports raise and
        evaluation.evaluate_group(admin.aid, tick - 40, 60)  # then clear "Slow scoring"
        evaluation.evaluate_group(admin.aid, tick, 60)       # the failures keep the overview's rule firing

    ui.sign_in(admin)
    page = ui.page
    page.get_by_role("link", name="Alerts", exact=True).click()
    expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    expect(page.locator("main")).to_have_attribute("data-loaded", "1")
    active = page.locator("table", has=page.locator("caption", has_text="Alerts firing now"))
    expect(active.locator("tbody tr")).to_have_count(1)
    expect(active.locator("tbody tr")).to_contain_text("Failure rate on the overview")
    expect(active.locator("tbody tr")).to_contain_text("((failureRate >= 10%))")
    cleared = page.locator("table", has=page.locator("caption", has_text="Recently cleared alerts"))
    expect(cleared.locator("tbody tr")).to_have_count(1)
    expect(cleared.locator("tbody tr")).to_contain_text("Slow scoring")
    ui.shot("alerts")

    ui.go(f"/dashboards/{overview['reportId']}")
    frame = page.locator(f'[data-widget-id="{widget["id"]}"]')
    expect(frame.locator(".widget-rules li.alerting")).to_contain_text("Failure rate on the overview")
    expect(page.locator(".widget-rules li")).to_have_count(1)  # only the widget with a rule shows one
    ui.check()
