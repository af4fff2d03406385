"""The `maiascore` command: which database it writes to, scriptable passwords, errors as messages."""
import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from config import Config
from maiascore.auth.passwords import verify_password
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
