"""Argon2id password hashing: memory-hard, parameters from config."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from config import settings
from maiascore.concurrency import offload

_hashers = {}


def _hasher():
    cfg = settings()
    key = (cfg.ARGON2_TIME_COST, cfg.ARGON2_MEMORY_KIB)
    if key not in _hashers:
        _hashers[key] = PasswordHasher(time_cost=cfg.ARGON2_TIME_COST, memory_cost=cfg.ARGON2_MEMORY_KIB,
                                       parallelism=1)
    return _hashers[key]


def hash_password(password):
    return offload(_hasher().hash, password)


def verify_password(stored_hash, password):
    try:
        return offload(_hasher().verify, stored_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


_DUMMY = {}


def burn_verification_time(password):
    """Spends one verification on unknown identifiers so timing does not reveal which emails exist."""
    cfg = settings()
    key = (cfg.ARGON2_TIME_COST, cfg.ARGON2_MEMORY_KIB)
    if key not in _DUMMY:
        _DUMMY[key] = hash_password("not-a-real-password")
    verify_password(_DUMMY[key], password)
