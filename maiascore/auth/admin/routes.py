"""ThousandEyes-style administration: account groups, roles, permissions and users."""
from flask import g
from flask.views import MethodView

from maiascore.accounts import service
from maiascore.accounts.permissions import MANAGE_USERS, PERMISSIONS, ROLES, permission_doc, role_doc
from maiascore.auth.access import requires
from maiascore.auth.admin import schemas
from maiascore.http.api import Blueprint

blp = Blueprint("accounts", __name__, url_prefix="/v6", description="Account groups, roles, users")


@blp.route("/account-groups")
class AccountGroups(MethodView):
    @requires()
    @blp.response(200, schemas.AccountGroupsSchema)
    def get(self):
        """The account groups the caller belongs to."""
        return {"accountGroups": service.account_groups_of(g.user, g.aid)}


@blp.route("/roles")
class Roles(MethodView):
    @requires(MANAGE_USERS)
    @blp.response(200, schemas.RolesSchema)
    def get(self):
        """The roles of the account group, each with its permissions."""
        return {"roles": [role_doc(role_id) for role_id in ROLES]}


@blp.route("/permissions")
class Permissions(MethodView):
    @requires(MANAGE_USERS)
    @blp.response(200, schemas.PermissionsSchema)
    def get(self):
        """Every permission a role can hold."""
        return {"permissions": [permission_doc(label) for _, label, _ in PERMISSIONS]}


@blp.route("/users")
class Users(MethodView):
    @requires(MANAGE_USERS)
    @blp.response(200, schemas.V6UsersSchema)
    def get(self):
        """Members of the current account group."""
        return {"users": [service.v6_user(u) for u in service.users_in_group(g.aid)]}


@blp.route("/users/new")
class NewUser(MethodView):
    @requires(MANAGE_USERS)
    @blp.arguments(schemas.UserCreateSchema)
    @blp.response(201, schemas.V6UsersSchema)
    def post(self, body):
        """Add a user to the current account group with a role."""
        user = service.add_user_to_group(body["name"], body["email"], body["password"], g.aid, body["role"])
        return {"users": [service.v6_user(user)]}


@blp.route("/users/<int:user_id>")
class User(MethodView):
    @requires(MANAGE_USERS)
    @blp.response(200, schemas.V6UsersSchema)
    def get(self, user_id):
        """One member of the current account group."""
        return {"users": [service.v6_user(service.user_in_group(user_id, g.aid))]}


@blp.route("/users/<int:user_id>/update")
class UpdateUser(MethodView):
    @requires(MANAGE_USERS)
    @blp.arguments(schemas.UserUpdateSchema)
    @blp.response(200, schemas.V6UsersSchema)
    def post(self, body, user_id):
        """Change a member's role in this group, their roles in other groups the caller administers
        (``accountGroupRoles``: adds them there if needed), or, as an Account Admin of every group
        they belong to (or as themselves), their name, password or blocked state."""
        user = service.update_user_in_group(service.user_in_group(user_id, g.aid), g.aid, body, g.user)
        return {"users": [service.v6_user(user)]}


@blp.route("/users/<int:user_id>/delete")
class DeleteUser(MethodView):
    @requires(MANAGE_USERS)
    @blp.response(204)
    def post(self, user_id):
        """Remove a member from this group (and delete them if it was their last)."""
        service.remove_user_from_group(service.user_in_group(user_id, g.aid), g.aid)
        return None
