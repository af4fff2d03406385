import marshmallow as ma

from maiascore.accounts.permissions import strapi_role
from maiascore.accounts.service import USERNAME_PATTERN, USERNAME_RULE, role_in
from maiascore.http.fields import Ignored


class StrapiRoleSchema(ma.Schema):
    """The user's role in the request's account group, shaped as Strapi v3's users-permissions role."""

    id = ma.fields.Integer(required=True, metadata={"description": "The role id (GET /v6/roles)"})
    name = ma.fields.String(required=True, metadata={"example": "Account Admin"})
    description = ma.fields.String(required=True)
    type = ma.fields.String(required=True, metadata={"example": "account_admin"})


class PublicUserSchema(ma.Schema):
    """A user as the API shows it: never a password hash, token or reset code."""

    id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    provider = ma.fields.String(required=True)
    confirmed = ma.fields.Boolean(required=True)
    blocked = ma.fields.Boolean(required=True)
    role = ma.fields.Nested(StrapiRoleSchema, required=True, allow_none=True,
                            metadata={"description": "The role in the request's account group (null: none)"})

    @ma.pre_dump
    def shown(self, user, **kwargs):
        """A stored user seen from the account group ``aid`` (set beside the stored fields by whoever
        shows it; else the user's default group), field by field: nothing else of the user leaves."""
        aid = user.get("aid", user.get("defaultAid"))
        return {
            "id": user["_id"],
            "username": user["username"],
            "email": user["email"],
            "provider": user.get("provider", "local"),
            "confirmed": bool(user.get("confirmed", True)),
            "blocked": bool(user.get("blocked", False)),
            "role": strapi_role(role_in(user, aid)),
        }


class MeSchema(PublicUserSchema):
    """The caller, with what they may do in the request's account group (``aid``): a client can offer
    only what the server will allow."""

    aid = ma.fields.Integer(required=True, metadata={
        "description": "The account group this answer is about: ``aid`` of the request, else the user's default"})
    roleId = ma.fields.Integer(required=True, allow_none=True,
                               metadata={"description": "The caller's role in that group"})
    permissions = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "Labels of the role's permissions, as GET /v6/permissions names them"})

    @ma.pre_dump
    def shown(self, user, **kwargs):
        """As PublicUserSchema, with ``aid``, ``roleId`` and ``permissions`` set beside the stored fields."""
        return dict(PublicUserSchema.shown(self, user), aid=user["aid"], roleId=user["roleId"],
                    permissions=user["permissions"])


class LoginSchema(ma.Schema):
    identifier = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=256),
                                  metadata={"example": "admin@example.com"})
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1024),
                                load_only=True, metadata={"example": "change-me-now"})


class RegisterSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Regexp(USERNAME_PATTERN, error=USERNAME_RULE))
    email = ma.fields.Email(required=True)
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=8, max=1024))


class AuthResultSchema(ma.Schema):
    jwt = ma.fields.String(required=True)
    user = ma.fields.Nested(PublicUserSchema, required=True)


class TokenCreateSchema(ma.Schema):
    name = ma.fields.String(load_default="token", validate=ma.validate.Length(min=1, max=100))


class TokenSchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    hint = ma.fields.String(required=True, metadata={"description": "The token's last four characters"})
    created_at = ma.fields.DateTime(required=True)
    last_used_at = ma.fields.DateTime(required=True, allow_none=True)

    @ma.pre_dump
    def shown(self, doc, **kwargs):
        """A stored token without its hash; ``token`` (the secret) only when the creation put it there."""
        shown = {"id": str(doc["_id"]), "name": doc["name"], "hint": "…" + doc["hint"],
                 "created_at": doc["created_at"], "last_used_at": doc.get("last_used_at")}
        if "token" in doc:
            shown["token"] = doc["token"]
        return shown


class NewTokenSchema(TokenSchema):
    token = ma.fields.String(required=True, metadata={"description": "The secret: shown once, never again"})


class ForgotPasswordSchema(ma.Schema):
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=256))
    # The SDK sends the page to link to; a caller-chosen link would let anyone mail a victim a real
    # code pointing at their own site, so the link comes from PASSWORD_RESET_URL only.
    url = Ignored(allow_none=True, metadata={
        "type": "string", "description": "Accepted for Strapi SDK compatibility and ignored: the mail links to "
                                         "the server's PASSWORD_RESET_URL"})


class OkSchema(ma.Schema):
    ok = ma.fields.Boolean()


class ResetPasswordSchema(ma.Schema):
    code = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=1, max=256),
                            metadata={"description": "The code from the reset mail"})
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=8, max=1024))
    passwordConfirmation = ma.fields.String(required=True, load_only=True,
                                            validate=ma.validate.Length(min=1, max=1024))


class CountSchema(ma.Schema):
    count = ma.fields.Integer()
