"""CPU-bound work in a web process (Argon2 hashing): under gunicorn's gevent workers it runs on the
hub's thread pool, so the event loop keeps serving the other requests meanwhile (the hash releases
the GIL). Elsewhere (threaded servers, the CLI, the workers) it simply runs in the caller's thread."""
import gevent
import gevent.monkey


def offload(func, *args):
    """``func(*args)``, off the event loop when this process runs under gevent."""
    if gevent.monkey.is_module_patched("threading"):
        return gevent.get_hub().threadpool.apply(func, args)
    return func(*args)
