"""Domain errors: what went wrong, in words a client can act on.

Services, jobs and the CLI raise these; only the HTTP layer (``maiascore.http.errors``)
turns them into ``{code, message}`` answers, so code outside ``routes.py`` never speaks HTTP.
``status_of`` is the one map from an error to the status it answers with, read by the HTTP
layer and by the items of a bulk answer.
"""


class DomainError(Exception):
    """Base of every error a caller can be told about; ``message`` is safe to show."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class Invalid(DomainError):
    """The input is malformed or breaks a rule (400)."""


class Unprocessable(DomainError):
    """The input is well formed but its fields do not validate (422 on Strapi routes, 400 on /v6)."""


class Unauthenticated(DomainError):
    """Missing, wrong, expired or revoked credentials."""


class Forbidden(DomainError):
    """Authenticated, but not allowed to do this."""


class NotFound(DomainError):
    """No such thing in the caller's account group."""


class Conflict(DomainError):
    """The request collides with the current state (a duplicate, a finished training)."""


class TooLarge(DomainError):
    """An input exceeds a size bound; the message names the bound."""


class RateLimited(DomainError):
    """Too many requests; retry after ``retry_after`` seconds."""

    def __init__(self, message, retry_after=60):
        super().__init__(message)
        self.retry_after = int(retry_after)


class Unavailable(DomainError):
    """A backing service cannot answer now; retry later."""

    def __init__(self, message, retry_after=5):
        super().__init__(message)
        self.retry_after = int(retry_after)


STATUS = {
    Invalid: 400,
    Unprocessable: 422,  # 400 on /v6: the HTTP layer decides
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    RateLimited: 429,
    Unavailable: 503,
}


def status_of(error):
    return next((status for kind, status in STATUS.items() if isinstance(error, kind)), 400)
