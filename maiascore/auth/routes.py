"""Strapi users-permissions routes: log in, register, password recovery, who am I, the group's users,
API tokens."""
from flask import current_app, g, request
from flask.views import MethodView

from maiascore.accounts.permissions import MANAGE_USERS, permission_labels
from maiascore.accounts.service import count_users, list_users, user_in_group
from maiascore.auth import schemas
from maiascore.auth.access import authorize, requires
from maiascore.auth.recovery import forgot_password, reset_password
from maiascore.auth.service import (create_api_token, issue_jwt, list_api_tokens, login, register,
                                    revoke_api_token)
from maiascore.http.api import Blueprint
from maiascore.http.strapi import list_parameters, parse_list_query

blp = Blueprint("auth", __name__, description="Log in, register, password recovery, users, API tokens")

# What GET /users filters and sorts on: plain fields of the user, never a secret.
USER_FIELDS = {"id": ("_id", int), "username": ("username", str), "email": ("email", str),
               "blocked": ("blocked", bool), "confirmed": ("confirmed", bool)}
USER_SEARCH = ("username", "email")
USER_PARAMETERS = list_parameters(USER_FIELDS, default_sort="id:ASC", search=USER_SEARCH)


def _users_query():
    return parse_list_query(request.args, USER_FIELDS, {"memberships.aid": g.aid}, default_sort=(("_id", 1),),
                            search=USER_SEARCH)


@blp.route("/auth/local")
class Login(MethodView):
    @blp.arguments(schemas.LoginSchema)
    @blp.response(200, schemas.AuthResultSchema)
    @blp.alt_response(400, schema="Error", description="Invalid identifier or password")
    @blp.alt_response(429, schema="Error", description="Too many failed logins for the identifier from the "
                                                       "address or from the address (LOGIN_FAILURES_PER_MINUTE), for "
                                                       "the identifier from every address "
                                                       "(LOGIN_FAILURES_PER_MINUTE_PER_IDENTIFIER), or too many "
                                                       "logins from the address (LOGINS_PER_MINUTE_PER_ADDRESS)")
    def post(self, body):
        """Exchange an email or username and a password for a JWT."""
        user, token = login(body["identifier"], body["password"], request.remote_addr)
        return {"jwt": token, "user": user}


@blp.route("/auth/local/register")
class Register(MethodView):
    @blp.doc(**{"x-reads-aid": True})  # an admin's call adds the user to the group ``aid`` names
    @blp.arguments(schemas.RegisterSchema)
    @blp.response(200, schemas.AuthResultSchema)
    @blp.alt_response(403, schema="Error", description="Registration is closed, or the caller may not manage users")
    @blp.alt_response(409, schema="Error", description="The email or username is taken")
    def post(self, body):
        """Open registration (``ALLOW_REGISTRATION``) creates a new account group the user administers;
        an admin calling it adds a Regular User to the current group."""
        into_aid = None
        if request.headers.get("Authorization"):
            authorize((MANAGE_USERS,))
            into_aid = g.aid
        user = register(body["username"], body["email"], body["password"], into_aid, request.remote_addr)
        return {"jwt": issue_jwt(user), "user": user}


@blp.route("/auth/forgot-password")
class ForgotPassword(MethodView):
    @blp.arguments(schemas.ForgotPasswordSchema)
    @blp.response(200, schemas.OkSchema)
    @blp.alt_response(429, schema="Error", description="Too many attempts from this address")
    def post(self, body):
        """Mail a password reset code to the account with this email. The answer is the same whether
        or not such an account exists."""
        forgot_password(body["email"], request.remote_addr)
        return {"ok": True}


@blp.route("/auth/reset-password")
class ResetPassword(MethodView):
    @blp.arguments(schemas.ResetPasswordSchema)
    @blp.response(200, schemas.AuthResultSchema)
    @blp.alt_response(400, schema="Error", description="Incorrect (unknown, used or expired) code, "
                                                       "or passwords do not match")
    @blp.alt_response(429, schema="Error", description="Too many attempts from this address")
    def post(self, body):
        """Set a new password with a code from the reset mail; every earlier login of the user ends."""
        user, token = reset_password(body["code"], body["password"], body["passwordConfirmation"],
                                     request.remote_addr)
        return {"jwt": token, "user": user}


@blp.route("/users")
class Users(MethodView):
    @requires(MANAGE_USERS)
    @blp.doc(parameters=USER_PARAMETERS)
    @blp.response(200, schemas.PublicUserSchema(many=True))
    def get(self):
        """The current account group's users (Strapi list: `_limit`, `_start`, `_sort=username:ASC`,
        filters on id, username, email, blocked, confirmed), each with their role in the group."""
        query = _users_query()
        return [dict(user, aid=g.aid) for user in list_users(query)]


@blp.route("/users/count")
class UsersCount(MethodView):
    @requires(MANAGE_USERS)
    @blp.doc(parameters=[p for p in USER_PARAMETERS if p["name"] not in ("_limit", "_start", "_sort")])
    @blp.response(200, {"type": "integer"}, description="Number of the group's users matching the filters")
    def get(self):
        """Count the current account group's users, with the list's filters."""
        query = _users_query()
        return current_app.json.response(count_users(query))


@blp.route("/users/<int:user_id>")
class UserById(MethodView):
    @requires(MANAGE_USERS)
    @blp.response(200, schemas.PublicUserSchema)
    def get(self, user_id):
        """One user of the current account group."""
        return dict(user_in_group(user_id, g.aid), aid=g.aid)


@blp.route("/users/me")
class Me(MethodView):
    @requires()
    @blp.response(200, schemas.MeSchema)
    def get(self):
        """The caller, as seen in the current account group (``aid``): role and permissions there."""
        return dict(g.user, aid=g.aid, roleId=g.role_id,
                    permissions=permission_labels(g.role_id))


@blp.route("/users/me/tokens")
class Tokens(MethodView):
    @requires()
    @blp.response(200, schemas.TokenSchema(many=True))
    def get(self):
        """The caller's API tokens, without their secrets."""
        return list_api_tokens(g.user)

    @requires()
    @blp.arguments(schemas.TokenCreateSchema)
    @blp.response(201, schemas.NewTokenSchema)
    def post(self, body):
        """Create an API token for machine clients; the secret is in this answer only."""
        doc, secret = create_api_token(g.user, body["name"])
        return dict(doc, token=secret)


@blp.route("/users/me/tokens/<token_id>")
class Token(MethodView):
    @requires()
    @blp.response(200, schemas.TokenSchema)
    def delete(self, token_id):
        """Revoke a token: it stops working at once."""
        return revoke_api_token(g.user, token_id)
