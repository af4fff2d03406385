"""The ``maiascore`` command: administration and operations through the same service code.

Settings come from the environment (``config``). With ``MONGO_URI`` unset a command reaches
the database of the ``make run`` stack running from ``VAR_DIR`` (its ``stack.json``), and
a local mongod on its standard port only when no stack runs there.
"""
import json
import sys
import time

import click
from flask.cli import FlaskGroup

from config import Config, settings
from maiascore.accounts.service import (OPERATOR, account_groups_by_id, add_user_to_group, create_account_group,
                                        ensure_admin, find_user_by_identifier, membership, update_user_in_group)
from maiascore.app import create_app
from maiascore.errors import DomainError, NotFound
from maiascore.launcher import run_stack
from maiascore.queue import ROLES, worker_command
from maiascore.trainings import states
from maiascore.trainings.service import get_training, launch_training


class MaiaScoreGroup(FlaskGroup):
    """A domain error is the user's to act on: its message, not a stack trace."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            detail = f" {json.dumps(exc.errors)}" if exc.errors else ""
            raise click.ClickException(f"{exc.message}{detail}") from exc


# The CLI signs no JWTs, so it runs without SECRET_KEY (next to `make run`, in another shell).
@click.group(cls=MaiaScoreGroup, create_app=lambda: create_app(Config(require_secret_key=False)),
             add_default_commands=True)
def cli():
    """MaiaScore administration."""


def _read_password(value):
    """``--password`` as given; else prompted on a terminal, else one line of standard input (scripts)."""
    if value not in (None, "-"):
        return value
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    line = click.get_text_stream("stdin").readline().rstrip("\r\n")
    if not line:
        raise click.UsageError("no password on standard input")
    return line


@cli.command("create-group")
@click.argument("name")
def create_group(name):
    """Create an account group and print its aid."""
    group = create_account_group(name)
    click.echo(f"account group {group['name']!r} created with aid {group['_id']}")


@cli.command("create-user")
@click.option("--email", required=True)
@click.option("--username", default=None)
@click.option("--password", default=None,
              help="'-' reads one line of standard input (as does leaving it out when stdin is not a terminal); "
                   "left out on a terminal, you are prompted. A password on the command line shows in `ps`.")
@click.option("--aid", type=int, required=True, help="Account group id")
@click.option("--role", default="Account Admin", show_default=True,
              type=click.Choice(["Account Admin", "Regular User", "Read Only"]))
def create_user_command(email, username, password, aid, role):
    """Create a user in an account group."""
    if not account_groups_by_id([aid]):
        raise NotFound(f"No account group with aid {aid}")
    password = _read_password(password)
    username = username or email.split("@")[0]
    user = add_user_to_group(username, email, password, aid, role)
    click.echo(f"user {user['email']} created with id {user['_id']} as {role} in aid {aid}")


@cli.command("set-role")
@click.option("--user", "identifier", required=True, help="The user's email or username")
@click.option("--aid", type=int, required=True, help="Account group id")
@click.option("--role", required=True, type=click.Choice(["Account Admin", "Regular User", "Read Only"]))
def set_role_command(identifier, aid, role):
    """Give a user a role in an account group, adding them to it if they are not in it yet."""
    user = find_user_by_identifier(identifier)
    if user is None:
        raise NotFound(f"No user {identifier!r}")
    update_user_in_group(user, aid, {"accountGroupRoles": [{"accountGroupId": aid, "roleIds": [role]}]}, OPERATOR)
    click.echo(f"user {user['email']} is {role} in aid {aid}")


@cli.command("ensure-admin")
def ensure_admin_command():
    """Create the Default group and the admin from MAIASCORE_ADMIN_EMAIL / MAIASCORE_ADMIN_PASSWORD."""
    cfg = settings()
    user, group, created = ensure_admin(cfg.MAIASCORE_ADMIN_EMAIL, cfg.MAIASCORE_ADMIN_PASSWORD)
    click.echo(f"admin {user['email']} in {group['name']!r} (aid {group['_id']}): "
               f"{'created' if created else 'already there'}")


@cli.command("train")
@click.option("--dataset", default="german-credit", show_default=True,
              help='"german-credit", "reports" (labelled score reports) or an uploaded dataset id')
@click.option("--target", default=None, help="Target column (default: detected)")
@click.option("--user", "email", default=None, help="Who launches it (default: MAIASCORE_ADMIN_EMAIL)")
@click.option("--aid", type=int, default=None, help="Account group (default: the user's default)")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="XGBoost parameter, repeatable")
@click.option("--activate", type=click.Choice(["always", "if-better", "never"]), default="if-better",
              show_default=True)
@click.option("--wait/--no-wait", default=False, help="Show progress until the training ends, then its metrics")
def train(dataset, target, email, aid, params, activate, wait):
    """Launch a training through the same service code as POST /trainings."""
    user = find_user_by_identifier(email or settings().MAIASCORE_ADMIN_EMAIL)
    if user is None:
        raise click.ClickException("no such user; pass --user EMAIL")
    aid = aid if aid is not None else user.get("defaultAid")
    if membership(user, aid) is None:
        raise click.ClickException(f"{user['email']} is not in account group {aid}")
    meta = {"dataset": dataset, "activate": activate,
            "params": {k: json.loads(v) if v.replace(".", "", 1).lstrip("-").isdigit() else v
                       for k, v in (p.split("=", 1) for p in params)}}
    if target:
        meta["target"] = target
    training = launch_training(aid, user, {"meta": meta})
    training_id = str(training["_id"])
    click.echo(f"training {training_id} {training['status']} (aid {aid})")
    if not wait:
        return
    with click.progressbar(length=100, label="training") as bar:
        shown = 0
        while training["status"] not in states.FINAL:
            time.sleep(0.5)
            training = get_training(aid, training_id)
            progress = int(training.get("progress") or 0)
            bar.update(max(progress - shown, 0))
            shown = max(shown, progress)
        bar.update(100 - shown)
    if training["status"] != states.SUCCEEDED:
        raise click.ClickException(f"training {training['status']}: {training.get('error') or 'no reason given'}")
    metrics = (training.get("meta") or {}).get("metrics", {})
    click.echo(f"version {training.get('version')}  accuracy {training.get('accuracy')}  "
               f"precission {training.get('precission')}  auc {metrics.get('auc')}  "
               f"mae {training.get('mae')}  rmse {training.get('rmse')}")


@cli.command("up", with_appcontext=False)
@click.option("--port", type=int, default=None, help="API port (default $PORT or 5000)")
def up(port):
    """Run the whole stack in the foreground (what `make run` calls)."""
    run_stack(port=port)


@cli.command("worker", with_appcontext=False)
@click.option("--role", type=click.Choice(list(ROLES)), default="scoring", show_default=True,
              help="scoring: score reports (and run the scheduler); training: train models")
@click.option("--burst", is_flag=True, help="Quit when the queues are empty")
def worker(role, burst):
    """Run an RQ worker of a role: the same command line as the Procfile's."""
    args = worker_command(role, burst=burst)
    os.execvp(os.path.join(os.path.dirname(sys.executable), "rq"), args)
