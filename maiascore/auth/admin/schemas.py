import marshmallow as ma

from maiascore.accounts.service import USERNAME_PATTERN, USERNAME_RULE

MAX_GROUP_ROLES = 100


class StrictBoolean(ma.fields.Boolean):
    """``true`` or ``false``: a JSON boolean, or exactly that text, the only way an XML or form body
    can say it. ``"yes"``, ``1``, ``"on"`` and the like are refused, not guessed."""

    TEXT = {"true": True, "false": False}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in self.TEXT:
            return self.TEXT[value]
        raise self.make_error("invalid", input=value)


class RoleRef(ma.fields.Field):
    """A role name or a roleId; the service checks that the role exists and names it if not."""

    default_error_messages = {"invalid": "A role name (string) or a roleId (integer)."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.make_error("invalid")
        return value


class AccountGroupSchema(ma.Schema):
    accountGroupName = ma.fields.String()
    aid = ma.fields.Integer()
    current = ma.fields.Integer(metadata={"description": "1 for the group in context"})
    default = ma.fields.Integer(metadata={"description": "1 for the user's default group"})


class AccountGroupsSchema(ma.Schema):
    accountGroups = ma.fields.List(ma.fields.Nested(AccountGroupSchema))


class PermissionSchema(ma.Schema):
    permissionId = ma.fields.Integer()
    label = ma.fields.String()
    isManagementPermission = ma.fields.Boolean()


class PermissionsSchema(ma.Schema):
    permissions = ma.fields.List(ma.fields.Nested(PermissionSchema))


class RoleSchema(ma.Schema):
    roleId = ma.fields.Integer()
    name = ma.fields.String()
    isBuiltin = ma.fields.Boolean()
    hasManagementPermissions = ma.fields.Boolean()
    permissions = ma.fields.List(ma.fields.Nested(PermissionSchema))


class RolesSchema(ma.Schema):
    roles = ma.fields.List(ma.fields.Nested(RoleSchema))


class AccountGroupRef(ma.Schema):
    aid = ma.fields.Integer()
    accountGroupName = ma.fields.String(allow_none=True)


class AccountRoleRef(ma.Schema):
    roleId = ma.fields.Integer()
    name = ma.fields.String()


class AccountGroupRoleSchema(ma.Schema):
    accountGroup = ma.fields.Nested(AccountGroupRef)
    roles = ma.fields.List(ma.fields.Nested(AccountRoleRef))


class V6UserSchema(ma.Schema):
    uid = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()
    blocked = ma.fields.Boolean()
    dateRegistered = ma.fields.String()
    accountGroupRoles = ma.fields.List(ma.fields.Nested(AccountGroupRoleSchema))


class V6UsersSchema(ma.Schema):
    users = ma.fields.List(ma.fields.Nested(V6UserSchema))


class UserCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Regexp(USERNAME_PATTERN, error=USERNAME_RULE))
    email = ma.fields.Email(required=True)
    password = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(min=8, max=1024))
    role = RoleRef(load_default="Regular User",
                   metadata={"description": "Role name or roleId in the current account group"})


class AccountGroupRoleChangeSchema(ma.Schema):
    accountGroupId = ma.fields.Integer(required=True, strict=True)
    roleIds = ma.fields.List(RoleRef(), required=True, validate=ma.validate.Length(
        equal=1, error="Exactly one role per account group"))


class UserUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Regexp(USERNAME_PATTERN, error=USERNAME_RULE))
    accountGroupRoles = ma.fields.List(
        ma.fields.Nested(AccountGroupRoleChangeSchema),
        validate=ma.validate.Length(max=MAX_GROUP_ROLES, error=f"At most {MAX_GROUP_ROLES} account groups a request"),
        metadata={"description": "The user's role in each listed account group, which the caller must "
                                 "administer; the user is added to a group they are not in yet. Groups "
                                 "not listed keep their memberships."})
    password = ma.fields.String(load_only=True, validate=ma.validate.Length(min=8, max=1024))
    role = RoleRef(metadata={"description": "Role name or roleId in the current account group"})
    blocked = StrictBoolean()
