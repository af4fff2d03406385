"""Alert rules on dashboard metrics, the alerts they raise and the notifications they send."""
