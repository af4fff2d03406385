"""The states of alerts and notifications, and the words rules are written in: one list each."""

# An alert: raised while its rule's condition holds, cleared when it stops.
TRIGGER = "trigger"
CLEAR = "clear"
ALERT_STATES = (TRIGGER, CLEAR)
LEGACY_STATES = {TRIGGER: "ACTIVE", CLEAR: "CLEARED"}  # the older ``state`` field of a listed alert

SEVERITIES = ("info", "minor", "major", "critical")
DEFAULT_SEVERITY = "major"

# A notification (one message to one endpoint): sent, waiting for its next attempt, or given up.
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DELIVERY_STATES = (PENDING, DELIVERED, FAILED)

# What a notification says happened.
EVENT_TRIGGER = "alert.trigger"
EVENT_CLEAR = "alert.clear"

# A webhook operation's connectivity, as ThousandEyes names it.
OP_PENDING = "pending"
OP_CONNECTED = "connected"
OP_FAILING = "failing"

COMPARISONS = {
    ">=": lambda value, threshold: value >= threshold,
    ">": lambda value, threshold: value > threshold,
    "<=": lambda value, threshold: value <= threshold,
    "<": lambda value, threshold: value < threshold,
    "==": lambda value, threshold: value == threshold,
    "!=": lambda value, threshold: value != threshold,
}


# What the ids MaiaScore gives look like; an answer names an id only when it could be one of them,
# so a 404 never echoes arbitrary text back.
ID_SHAPE = r"^[0-9a-f]{32}$|^[0-9]{1,18}(-[0-9]{1,18})?$"
