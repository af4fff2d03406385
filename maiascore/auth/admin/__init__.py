"""ThousandEyes v6 administration: account groups, roles, permissions and users, behind auth's guard."""
