"""The ``maiascore`` command: administration and operations through the same service code."""
import os
import sys

import click
from flask.cli import FlaskGroup

from maiascore import create_app


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_default_commands=True)
def cli():
    """MaiaScore administration."""


@cli.command("create-group")
@click.argument("name")
def create_group(name):
    """Create an account group and print its aid."""
    from maiascore.accounts.service import create_account_group

    group = create_account_group(name)
    click.echo(f"account group {group['name']!r} created with aid {group['_id']}")


@cli.command("create-user")
@click.option("--email", required=True)
@click.option("--username", default=None)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--aid", type=int, required=True, help="Account group id")
@click.option("--role", default="Account Admin", show_default=True,
              type=click.Choice(["Account Admin", "Regular User", "Read Only"]))
def create_user_command(email, username, password, aid, role):
    """Create a user in an account group."""
    from maiascore.accounts.service import add_user_to_group

    username = username or email.split("@")[0]
    user = add_user_to_group(username, email, password, aid, role)
    click.echo(f"user {user['email']} created with id {user['_id']} as {role} in aid {aid}")


@cli.command("ensure-admin")
def ensure_admin_command():
    """Create the Default group and the admin from MAIASCORE_ADMIN_EMAIL / MAIASCORE_ADMIN_PASSWORD."""
    from maiascore.accounts.service import ensure_admin
    from maiascore.launcher import DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD

    user, group, created = ensure_admin(os.environ.get("MAIASCORE_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL),
                                        os.environ.get("MAIASCORE_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD))
    click.echo(f"admin {user['email']} in {group['name']!r} (aid {group['_id']}): "
               f"{'created' if created else 'already there'}")


@cli.command("up", with_appcontext=False)
@click.option("--port", type=int, default=None, help="API port (default $PORT or 5000)")
def up(port):
    """Run the whole stack in the foreground (what `make run` calls)."""
    from maiascore.launcher import run_stack

    run_stack(port=port)


@cli.command("worker", with_appcontext=False)
@click.option("--burst", is_flag=True, help="Quit when the queues are empty")
def worker(burst):
    """Run an RQ worker on the project's queues, with the scheduler (same as the Procfile's)."""
    from config import settings

    args = ["rq", "worker", "--worker-class", "maiascore.jobs.worker.Worker", "--with-scheduler",
            "--url", settings().REDIS_URL, "scores", "trainings"]
    if burst:
        args.insert(2, "--burst")
    os.execvp(os.path.join(os.path.dirname(sys.executable), "rq"), args)
