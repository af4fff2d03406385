import marshmallow as ma

from maiascore.accounts.service import USERNAME_PATTERN, USERNAME_RULE
from maiascore.http.fields import Ignored


class PublicUserSchema(ma.Schema):
    """A user as the API shows it: never a password hash, token or reset code."""

    id = ma.fields.Integer()
    username = ma.fields.String()
    email = ma.fields.String()
    provider = ma.fields.String()
    confirmed = ma.fields.Boolean()
    blocked = ma.fields.Boolean()
    role = ma.fields.String(allow_none=True)


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
    jwt = ma.fields.String()
    user = ma.fields.Nested(PublicUserSchema)


class TokenCreateSchema(ma.Schema):
    name = ma.fields.String(load_default="token", validate=ma.validate.Length(min=1, max=100))


class TokenSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    hint = ma.fields.String(metadata={"description": "The token's last four characters"})
    created_at = ma.fields.DateTime()
    last_used_at = ma.fields.DateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = ma.fields.String(metadata={"description": "The secret: shown once, never again"})


class ForgotPasswordSchema(ma.Schema):
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=256))
    # The SDK sends the page to link to; a caller-chosen link would let anyone mail a victim a real
    # code pointing at their own site, so the link comes from PASSWORD_RESET_URL only.
    url = Ignored(metadata={"description": "Accepted for Strapi SDK compatibility and ignored: the mail "
                                           "links to the server's PASSWORD_RESET_URL"})


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
