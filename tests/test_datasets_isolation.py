"""Attacks on data sets registered by URI: links nested in a Parquet directory, a file set changed
after registration, FIFOs and sockets under a group's root, a gzip bomb against the training's
bounds, a NUL byte in the URI. Every file the readers open goes through one opener
(:mod:`maiascore.datasets.files`); these tests go through the API and real RQ workers."""
import gzip
import io
import os
import pickle
import socket
from importlib import resources

import pandas as pd
import pytest
from bson import ObjectId

from maiascore.connections import get_db
from maiascore.modeling import DatasetError
from maiascore.datasets.files import GroupFiles

from tests.dask_fixtures import dask_cluster  # noqa: F401  the session's Dask cluster
from tests.model_fixtures import install_model

GERMAN_CREDIT = resources.files("maiascore.modeling").joinpath("data", "germancredit.csv").read_bytes()
GERMAN = pd.read_csv(io.BytesIO(GERMAN_CREDIT))


@pytest.fixture
def roots(cfg, tmp_path, monkeypatch):
    """Each group's files under <tmp>/groups/<aid>/, for the web app and for the workers it starts."""
    base = tmp_path / "groups"
    base.mkdir()
    value = f"file://{base}/{{aid}}/"
    cfg.DATASET_ROOTS = value
    monkeypatch.setenv("DATASET_ROOTS", value)
    return base


def home_of(roots, actor):
    path = roots / str(actor.aid)
    path.mkdir(exist_ok=True)
    return path


def register(actor, uri, **fields):
    return actor.post("/datasets", json={"uri": uri, **fields})


def assert_error(r, code, fragment=""):
    assert r.status_code == code, r.get_data(as_text=True)
    body = r.get_json()
    assert body["code"] == code and fragment in body["message"], body


def setting(cfg, monkeypatch, name, value):
    """For the web app and for the workers the test starts."""
    setattr(cfg, name, value)
    monkeypatch.setenv(name, str(value))


def parquet_dir(path, frame):
    path.mkdir()
    frame.to_parquet(path / "a.parquet")
    return path


def training_error(actor, dataset_id, run_worker, params=None):
    r = actor.post("/trainings", json={"meta": {"dataset": dataset_id, "engine": "local", **(params or {})}})
    assert r.status_code in (200, 201), r.get_json()
    run_worker(queues=("trainings",))
    training = get_db().trainings.find_one({"_id": ObjectId(r.get_json()["id"])})
    return training["status"], training.get("error") or ""


def test_a_link_nested_in_a_parquet_directory_is_refused_at_registration(make_actor, roots):
    alice, bob = make_actor(), make_actor()
    GERMAN.to_parquet(home_of(roots, bob) / "secret.parquet")
    pqdir = parquet_dir(home_of(roots, alice) / "pqdir", GERMAN.iloc[:100])
    (pqdir / "sub").mkdir()
    (pqdir / "sub" / "z.parquet").symlink_to(roots / str(bob.aid) / "secret.parquet")
    assert_error(register(alice, f"file://{pqdir}"), 403, "DATASET_ROOTS")
    (pqdir / "sub" / "z.parquet").unlink()
    (pqdir / "sub" / "deeper").symlink_to(roots / str(bob.aid), target_is_directory=True)
    assert_error(register(alice, f"file://{pqdir}"), 403, "DATASET_ROOTS")
    # a link that stays inside the group's own root is followed
    (pqdir / "sub" / "deeper").unlink()
    GERMAN.iloc[100:].to_parquet(home_of(roots, alice) / "rest.parquet")
    (pqdir / "sub" / "z.parquet").symlink_to(home_of(roots, alice) / "rest.parquet")
    r = register(alice, f"file://{pqdir}")
    assert r.status_code == 201 and r.get_json()["rows"] == 1000, r.get_json()


def test_a_link_planted_after_registration_is_refused_at_every_read(make_actor, roots, run_worker, db):
    alice, bob = make_actor(), make_actor()
    secret = GERMAN.copy()
    secret.insert(0, "ref", [f"bob-{i}" for i in range(len(secret))])
    secret.to_parquet(home_of(roots, bob) / "secret.parquet")
    own = GERMAN.copy()
    own.insert(0, "ref", [f"alice-{i}" for i in range(len(own))])
    pqdir = parquet_dir(home_of(roots, alice) / "pqdir", own)
    dataset = register(alice, f"file://{pqdir}").get_json()["id"]
    (pqdir / "sub").mkdir()
    (pqdir / "sub" / "z.parquet").symlink_to(roots / str(bob.aid) / "secret.parquet")

    status, error = training_error(alice, dataset, run_worker)
    assert status == "failed" and "DATASET_ROOTS" in error, error
    install_model(alice.aid)
    r = alice.post("/scoring-runs", json={"dataset": dataset, "output": {"kind": "reports", "rowKey": "ref"}})
    assert r.status_code in (200, 201), r.get_json()
    run_worker(queues=("trainings",))
    run = db.scoring_runs.find_one({"_id": ObjectId(r.get_json()["id"])})
    assert run["status"] == "failed" and "DATASET_ROOTS" in run.get("error", ""), run
    assert db.score_reports.count_documents({"aid": alice.aid, "reference": {"$regex": "^bob-"}}) == 0

    # the file set itself changed (a file of the group's own added): refused with the reason
    (pqdir / "sub" / "z.parquet").unlink()
    own.iloc[:50].to_parquet(pqdir / "sub" / "more.parquet")
    status, error = training_error(alice, dataset, run_worker)
    assert status == "failed" and "changed since it was registered" in error, error


def test_the_dask_workers_open_files_only_under_the_root(make_actor, roots):
    """The filesystem the Dask workers receive (pickled, as the graph carries it) refuses what escapes."""
    alice, bob = make_actor(), make_actor()
    GERMAN.to_parquet(home_of(roots, bob) / "secret.parquet")
    mine = home_of(roots, alice)
    GERMAN.to_parquet(mine / "own.parquet")
    (mine / "link.parquet").symlink_to(roots / str(bob.aid) / "secret.parquet")
    os.mkfifo(mine / "pipe.csv")
    fs = pickle.loads(pickle.dumps(GroupFiles(root=str(mine))))
    with fs.open(str(mine / "own.parquet"), "rb") as handle:
        assert handle.read(4) == b"PAR1"
    with pytest.raises(DatasetError, match="DATASET_ROOTS"):
        fs.open(str(mine / "link.parquet"), "rb")
    with pytest.raises(DatasetError, match="DATASET_ROOTS"):
        fs.open(str(roots / str(bob.aid) / "secret.parquet"), "rb")
    with pytest.raises(DatasetError, match="not a regular file"):
        fs.open(str(mine / "pipe.csv"), "rb")


@pytest.mark.timeout(60)
def test_a_fifo_or_socket_under_the_root_answers_400_without_blocking(admin, roots):
    home = home_of(roots, admin)
    os.mkfifo(home / "data.csv")  # nothing ever writes into it
    assert_error(register(admin, f"file://{home}/data.csv"), 400, "not a regular file")
    pqdir = parquet_dir(home / "pqdir", GERMAN)
    os.mkfifo(pqdir / "b.parquet")
    assert_error(register(admin, f"file://{pqdir}"), 400, "not a regular file")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(home / "sock.csv"))
        assert_error(register(admin, f"file://{home}/sock.csv"), 400, "not a regular file")
    finally:
        server.close()


def bomb(rows):
    """A gzip CSV whose first sample is varied and the rest one row repeated: the sample's ratio
    badly underestimates the rows."""
    varied = GERMAN_CREDIT
    line = GERMAN_CREDIT.splitlines()[1] + b"\n"
    return gzip.compress(varied + line * rows)


def test_a_gzip_bomb_fails_the_training_naming_the_work_budget(admin, cfg, roots, monkeypatch, run_worker):
    home = home_of(roots, admin)
    (home / "bomb.csv.gz").write_bytes(bomb(60_000))
    setting(cfg, monkeypatch, "DATASET_SAMPLE_BYTES", 50_000)
    r = register(admin, f"file://{home}/bomb.csv.gz")
    assert r.status_code == 201 and r.get_json()["rowsEstimated"] is True, r.get_json()
    estimated = r.get_json()["rows"]
    assert estimated < 20_000
    params = {"params": {"num_boost_round": 10, "max_depth": 3}}
    setting(cfg, monkeypatch, "TRAINING_WORK_BUDGET", 30 * 20_000)  # passes the estimate, not the 61,000 rows
    status, error = training_error(admin, r.get_json()["id"], run_worker, params)
    assert status == "failed" and "TRAINING_WORK_BUDGET" in error, error


def test_a_gzip_bomb_fails_the_training_naming_the_read_bound(admin, cfg, roots, monkeypatch, run_worker):
    home = home_of(roots, admin)
    (home / "bomb.csv.gz").write_bytes(bomb(60_000))
    setting(cfg, monkeypatch, "DATASET_SAMPLE_BYTES", 50_000)
    dataset = register(admin, f"file://{home}/bomb.csv.gz").get_json()["id"]
    setting(cfg, monkeypatch, "DATASET_READ_MAX_BYTES", 1_000_000)
    status, error = training_error(admin, dataset, run_worker, {"params": {"num_boost_round": 5, "max_depth": 2}})
    assert status == "failed" and "DATASET_READ_MAX_BYTES" in error, error


def test_on_dask_a_planted_link_and_a_gzip_bomb_fail_the_training(make_actor, cfg, roots, dask_cluster,  # noqa: F811
                                                                  monkeypatch, run_worker):
    alice, bob = make_actor(), make_actor()
    setting(cfg, monkeypatch, "DASK_SCHEDULER_ADDRESS", dask_cluster.address)
    GERMAN.to_parquet(home_of(roots, bob) / "secret.parquet")
    pqdir = parquet_dir(home_of(roots, alice) / "pqdir", GERMAN)
    dataset = register(alice, f"file://{pqdir}").get_json()["id"]
    (pqdir / "z.parquet").symlink_to(roots / str(bob.aid) / "secret.parquet")
    status, error = training_error(alice, dataset, run_worker, {"engine": "dask"})
    assert status == "failed" and "DATASET_ROOTS" in error, error

    (home_of(roots, alice) / "bomb.csv.gz").write_bytes(bomb(60_000))
    setting(cfg, monkeypatch, "DATASET_SAMPLE_BYTES", 50_000)
    dataset = register(alice, f"file://{home_of(roots, alice)}/bomb.csv.gz").get_json()["id"]
    setting(cfg, monkeypatch, "DATASET_READ_MAX_BYTES", 1_000_000)
    status, error = training_error(alice, dataset, run_worker, {"engine": "dask"})
    assert status == "failed" and "DATASET_READ_MAX_BYTES" in error, error
    setting(cfg, monkeypatch, "DATASET_READ_MAX_BYTES", 100_000_000)
    setting(cfg, monkeypatch, "TRAINING_WORK_BUDGET", 30 * 20_000)  # the exact rows, checked before boosting
    status, error = training_error(alice, dataset, run_worker, {"engine": "dask",
                                                               "params": {"num_boost_round": 10, "max_depth": 3}})
    assert status == "failed" and "TRAINING_WORK_BUDGET" in error, error


def test_a_nul_byte_or_control_character_in_the_uri_answers_400(admin, roots):
    home = home_of(roots, admin)
    (home / "ok.csv").write_bytes(GERMAN_CREDIT)
    for uri in (f"file://{home}/ok.csv%00.parquet", f"file://{home}/ok.csv\x00.parquet",
                f"file://{home}/ok.csv%0a"):
        assert_error(register(admin, uri), 400, "uri")
    assert register(admin, f"file://{home}/ok.csv").status_code == 201
