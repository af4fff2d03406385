"""Strapi users-permissions routes: log in, register, who am I, API tokens."""
from flask import g, request
from flask.views import MethodView

from maiascore.accounts.permissions import MANAGE_USERS
from maiascore.accounts.service import public_user
from maiascore.auth import schemas
from maiascore.auth.access import authorize, requires
from maiascore.auth.service import (create_api_token, issue_jwt, list_api_tokens, login, public_token, register,
                                    revoke_api_token)
from maiascore.http.api import Blueprint

blp = Blueprint("auth", __name__, description="Log in, register, API tokens")


@blp.route("/auth/local")
class Login(MethodView):
    @blp.arguments(schemas.LoginSchema)
    @blp.response(200, schemas.AuthResultSchema)
    @blp.alt_response(400, schema="Error", description="Invalid identifier or password")
    @blp.alt_response(429, schema="Error", description="More than 10 failed logins in a minute")
    def post(self, body):
        """Exchange an email or username and a password for a JWT."""
        user, token = login(body["identifier"], body["password"], request.remote_addr)
        return {"jwt": token, "user": public_user(user)}


@blp.route("/auth/local/register")
class Register(MethodView):
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
        user = register(body["username"], body["email"], body["password"], into_aid)
        return {"jwt": issue_jwt(user), "user": public_user(user)}


@blp.route("/users/me")
class Me(MethodView):
    @requires()
    @blp.response(200, schemas.PublicUserSchema)
    def get(self):
        """The caller, as seen in the current account group."""
        return public_user(g.user, g.aid)


@blp.route("/users/me/tokens")
class Tokens(MethodView):
    @requires()
    @blp.response(200, schemas.TokenSchema(many=True))
    def get(self):
        """The caller's API tokens, without their secrets."""
        return [public_token(doc) for doc in list_api_tokens(g.user)]

    @requires()
    @blp.arguments(schemas.TokenCreateSchema)
    @blp.response(201, schemas.NewTokenSchema)
    def post(self, body):
        """Create an API token for machine clients; the secret is in this answer only."""
        doc, secret = create_api_token(g.user, body["name"])
        return dict(public_token(doc), token=secret)


@blp.route("/users/me/tokens/<token_id>")
class Token(MethodView):
    @requires()
    @blp.response(200, schemas.TokenSchema)
    def delete(self, token_id):
        """Revoke a token: it stops working at once."""
        return public_token(revoke_api_token(g.user, token_id))
