"""The `maiascore` command: which database it writes to, scriptable passwords, errors as messages."""
import json
import os
import subprocess
import sys
from pathlib import Path

from bson import ObjectId
from click.testing import CliRunner

from config import Config
from maiascore.accounts.passwords import verify_password
from maiascore.cli import cli

ROOT = Path(__file__).resolve().parent.parent
MAIASCORE = str(Path(sys.executable).with_name("maiascore"))


def write_state(var_dir, **state):
    var_dir.mkdir(parents=True, exist_ok=True)
    (var_dir / "stack.json").write_text(json.dumps(state))


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_command_in_another_shell_writes_into_the_running_stacks_database(cfg, db, tmp_path):
    """No MONGO_URI: the state file `make run` keeps names the database, whatever owns port 27017."""
    write_state(tmp_path / "var", pid=os.getpid(), mongo_uri=cfg.MONGO_URI, redis_url=cfg.REDIS_URL)
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "REDIS_URL", "VAR_DIR")}
    env.update(PYTHONPATH=str(ROOT), MONGO_TIMEOUT_MS="3000")
    result = subprocess.run([MAIASCORE, "create-group", "Acme"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    group = db.account_groups.find_one({"name": "Acme"})
    assert group is not None and f"aid {group['_id']}" in result.stdout


def test_settings_read_the_state_file_only_while_its_stack_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("MONGO_URI", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    assert Config().MONGO_URI == "mongodb://127.0.0.1:27017"  # no stack: a local mongod's standard port

    write_state(tmp_path / "var", pid=os.getpid(), mongo_uri="mongodb://127.0.0.1:40001",
                redis_url="redis://127.0.0.1:40002/0")
    assert (Config().MONGO_URI, Config().REDIS_URL) == ("mongodb://127.0.0.1:40001", "redis://127.0.0.1:40002/0")

    monkeypatch.setenv("MONGO_URI", "mongodb://db.example:27017")
    assert Config().MONGO_URI == "mongodb://db.example:27017"  # the environment wins
    monkeypatch.delenv("MONGO_URI")

    write_state(tmp_path / "var", pid=dead_pid(), mongo_uri="mongodb://127.0.0.1:40001")
    assert Config().MONGO_URI == "mongodb://127.0.0.1:27017"  # its launcher was killed: stale, ignored

    (tmp_path / "var" / "stack.json").write_text("{not json")
    assert Config().MONGO_URI == "mongodb://127.0.0.1:27017"


def create_user(aid, *options, input=None):
    return CliRunner().invoke(cli, ["create-user", "--email", "script@example.com", "--aid", str(aid),
                                    *options], input=input)


def test_create_user_reads_the_password_from_stdin_with_dash(cfg, db, admin):
    result = create_user(admin.aid, "--password", "-", input="a-long-scripted-password\n")
    assert result.exit_code == 0, result.output
    user = db.users.find_one({"email": "script@example.com"})
    assert verify_password(user["password"], "a-long-scripted-password")
    assert "a-long-scripted-password" not in result.output


def test_create_user_reads_stdin_when_it_is_not_a_terminal(cfg, db, admin):
    result = create_user(admin.aid, input="piped-in-password\n")
    assert result.exit_code == 0, result.output
    assert verify_password(db.users.find_one({"email": "script@example.com"})["password"], "piped-in-password")


def test_create_user_takes_the_password_option(cfg, db, admin):
    result = create_user(admin.aid, "--password", "given-on-the-command-line")
    assert result.exit_code == 0, result.output
    assert verify_password(db.users.find_one({"email": "script@example.com"})["password"],
                           "given-on-the-command-line")


def test_create_user_refuses_an_empty_stdin(cfg, db, admin):
    result = create_user(admin.aid, input="")
    assert result.exit_code == 2
    assert "no password on standard input" in result.output
    assert db.users.find_one({"email": "script@example.com"}) is None


def test_a_domain_error_prints_its_message_not_a_traceback(cfg, db):
    result = create_user(424242, "--password", "whatever-password")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: No account group with aid 424242"
    assert "Traceback" not in result.output
    assert db.users.find_one({"email": "script@example.com"}) is None


def test_every_path_of_a_stacks_state_follows_var_dir(tmp_path, monkeypatch):
    """Two stacks started from one checkout with different VAR_DIRs keep apart, mail included."""
    monkeypatch.delenv("MAIL_DIR", raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "stack-a"))
    assert Path(Config(require_secret_key=False).MAIL_DIR) == tmp_path / "stack-a" / "mail"
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "elsewhere"))
    assert Path(Config(require_secret_key=False).MAIL_DIR) == tmp_path / "elsewhere"  # an explicit MAIL_DIR still wins


def test_the_state_file_names_the_stacks_redis_prefix(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_PREFIX", raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    assert Config(require_secret_key=False).REDIS_PREFIX == "maiascore"  # no stack: the default
    write_state(tmp_path / "var", pid=os.getpid(), mongo_uri="mongodb://127.0.0.1:40001",
                redis_url="redis://127.0.0.1:40002/0", redis_prefix="stack-a")
    assert Config(require_secret_key=False).REDIS_PREFIX == "stack-a"
    monkeypatch.setenv("REDIS_PREFIX", "mine")
    assert Config(require_secret_key=False).REDIS_PREFIX == "mine"  # the environment wins


def test_train_from_another_shell_queues_where_the_stacks_workers_listen(cfg, db, admin, tmp_path):
    """No REDIS_PREFIX in this shell: the training still lands on the running stack's queue."""
    from rq import Queue
    import redis

    write_state(tmp_path / "var", pid=os.getpid(), mongo_uri=cfg.MONGO_URI, redis_url=cfg.REDIS_URL,
                redis_prefix="stack-a")
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "REDIS_URL", "VAR_DIR", "REDIS_PREFIX")}
    env.update(PYTHONPATH=str(ROOT), MONGO_TIMEOUT_MS="3000", MONGO_DB_NAME=cfg.MONGO_DB_NAME)
    result = subprocess.run([MAIASCORE, "train", "--user", admin.email], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    (training,) = db.trainings.find({"aid": admin.aid})
    connection = redis.Redis.from_url(cfg.REDIS_URL)
    assert Queue("stack-a:trainings", connection=connection).job_ids == [f"train-{training['_id']}"]
    assert Queue("maiascore:trainings", connection=connection).job_ids == []


def test_the_sweep_moves_a_training_queued_where_no_worker_listens(app, cfg, db, admin):
    """A job left on another deployment's queue (a shell with another REDIS_PREFIX) is live for RQ but
    nobody of this stack will ever take it: past the grace period it is queued again where they listen."""
    from datetime import datetime, timedelta, timezone

    import redis
    from rq import Queue

    from maiascore.queue import queue_name
    from maiascore.trainings.jobs import recover_trainings, run_training

    r = admin.post("/trainings", json={"meta": {"dataset": "german-credit"}})
    assert r.status_code == 200, r.get_json()
    training_id = r.get_json()["id"]
    job_id = f"train-{training_id}"
    connection = redis.Redis.from_url(cfg.REDIS_URL)
    ours = Queue(queue_name("trainings"), connection=connection)
    stray = Queue("elsewhere:trainings", connection=connection)
    ours.remove(job_id)
    stray.enqueue(run_training, training_id, job_id=job_id)
    assert ours.job_ids == [] and stray.job_ids == [job_id]

    with app.app_context():
        assert recover_trainings() == (0, 0)  # within the grace period: left alone
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    db.trainings.update_one({"_id": ObjectId(training_id)}, {"$set": {"updated_at": old}})
    with app.app_context():
        assert recover_trainings() == (1, 0)
        assert recover_trainings() == (0, 0)  # on the right queue now: nothing left to do
    assert ours.job_ids == [job_id] and stray.job_ids == []
