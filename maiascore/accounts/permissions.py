"""Permissions and the built-in roles that bundle them (ThousandEyes' model)."""

VIEW_SCORES = "View Scores"
CREATE_SCORES = "Create Scores"
VIEW_TRAININGS = "View Trainings"
MANAGE_TRAININGS = "Manage Trainings"
VIEW_REPORTS = "View Reports"
EDIT_REPORTS = "Edit Reports"
EDIT_ALL_REPORTS = "Edit reports for all users in account group"
MANAGE_USERS = "Manage Users"
VIEW_ALERTS = "View Alerts"
EDIT_ALERT_RULES = "Edit Alert Rules"

PERMISSIONS = [
    # (permissionId, label, isManagementPermission)
    (1, VIEW_SCORES, False),
    (2, CREATE_SCORES, False),
    (3, VIEW_TRAININGS, False),
    (4, MANAGE_TRAININGS, True),
    (5, VIEW_REPORTS, False),
    (6, EDIT_REPORTS, False),
    (7, EDIT_ALL_REPORTS, True),
    (8, MANAGE_USERS, True),
    (9, VIEW_ALERTS, False),
    (10, EDIT_ALERT_RULES, True),
]
ALL_PERMISSIONS = frozenset(label for _, label, _ in PERMISSIONS)

ACCOUNT_ADMIN = "Account Admin"
REGULAR_USER = "Regular User"
READ_ONLY = "Read Only"

ROLES = {
    1: (ACCOUNT_ADMIN, ALL_PERMISSIONS),
    2: (REGULAR_USER, frozenset({VIEW_SCORES, CREATE_SCORES, VIEW_TRAININGS, VIEW_REPORTS, EDIT_REPORTS, VIEW_ALERTS})),
    3: (READ_ONLY, frozenset({VIEW_SCORES, VIEW_TRAININGS, VIEW_REPORTS, VIEW_ALERTS})),
}
ROLE_IDS = {name: role_id for role_id, (name, _) in ROLES.items()}
ROLE_DESCRIPTIONS = {
    1: "Every permission, Manage Users and Manage Trainings included",
    2: "Views and creates scores, views trainings, edits dashboards",
    3: "Views scores, trainings and dashboards",
}


def strapi_role(role_id):
    """A role as Strapi v3's users-permissions shows one (``user.role``): admin clients read ``role.name``."""
    if role_id not in ROLES:
        return None
    name = ROLES[role_id][0]
    return {"id": role_id, "name": name, "description": ROLE_DESCRIPTIONS[role_id],
            "type": name.lower().replace(" ", "_")}


def role_id_for(name_or_id):
    """Accepts a role id or a role name, as the CLI and /v6/users both do; anything else (a boolean,
    a list) is no role at all, never coerced to an id."""
    if isinstance(name_or_id, bool) or not isinstance(name_or_id, (int, str)):
        return None
    if isinstance(name_or_id, int) or name_or_id.isdigit():
        role_id = int(name_or_id)
        return role_id if role_id in ROLES else None
    return ROLE_IDS.get(str(name_or_id))


def permissions_of(role_id):
    return ROLES.get(role_id, ("", frozenset()))[1]


def permission_labels(role_id):
    """A role's permissions in their documented order (``PERMISSIONS``), not a set's."""
    granted = permissions_of(role_id)
    return [label for _, label, _ in PERMISSIONS if label in granted]


def role_name(role_id):
    return ROLES.get(role_id, ("", frozenset()))[0]


def permission_doc(label):
    for pid, name, management in PERMISSIONS:
        if name == label:
            return {"permissionId": pid, "label": name, "isManagementPermission": management}
    raise KeyError(label)


def role_doc(role_id):
    name, perms = ROLES[role_id]
    return {
        "roleId": role_id,
        "name": name,
        "isBuiltin": True,
        "hasManagementPermissions": any(permission_doc(p)["isManagementPermission"] for p in perms),
        "permissions": [permission_doc(label) for _, label, _ in PERMISSIONS if label in perms],
    }
