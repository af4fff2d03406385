"""Where a webhook may go: ``WEBHOOK_ALLOWED_HOSTS``, checked on every address a host resolves to.

Checked when a connector is saved (before anything connects) and again before every
delivery, which then connects to an address it just checked: a name that changes its
answer between the two (DNS rebinding) reaches nothing it was not allowed to. Loopback,
link-local, private and every other non-global address pass only when an IP or CIDR
entry of the setting names them; a name pattern (even ``*``) never admits them.
"""
import fnmatch
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from config import settings
from maiascore.errors import Invalid

MAX_URL_LENGTH = 2048
SCHEMES = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str            # path and query, as sent in the request line
    addresses: tuple     # every address the host resolved to, all allowed


@dataclass(frozen=True)
class _Entry:
    network: object      # an ip_network, or None for a name pattern
    pattern: str
    port: int = None

    def admits_port(self, port):
        return self.port is None or self.port == port


def _split_port(text):
    if text.startswith("["):  # [v6]:port
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if text.count(":") == 1:
        host, port = text.split(":")
        if port.isdigit():
            return host, int(port)
    return text, None


def allowed_entries(text=None):
    """The setting's entries; malformed ones are skipped (the setting is the operator's, not the tenant's)."""
    entries = []
    raw = settings().WEBHOOK_ALLOWED_HOSTS if text is None else text
    for item in (raw or "").replace(",", " ").split():
        host, port = _split_port(item.strip().lower())
        try:
            entries.append(_Entry(ipaddress.ip_network(host, strict=False), host, port))
        except ValueError:
            entries.append(_Entry(None, host.rstrip("."), port))
    return entries


def _is_special(address):
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def _listed_network(entries, address, port):
    candidates = [address]
    if address.version == 6 and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(entry.network is not None and entry.admits_port(port)
               and any(c.version == entry.network.version and c in entry.network for c in candidates)
               for entry in entries)


def _listed_name(entries, host, port):
    return any(entry.network is None and entry.admits_port(port) and fnmatch.fnmatchcase(host, entry.pattern)
               for entry in entries)


def parse(url):
    """The URL's parts, or 400 naming what is wrong; nothing is resolved or contacted."""
    if not isinstance(url, str) or not url.strip():
        raise Invalid("target must be an http or https URL", errors=[_item("target", "required")])
    if len(url) > MAX_URL_LENGTH:
        raise Invalid(f"target is longer than {MAX_URL_LENGTH} characters", errors=[_item("target", "too long")])
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise Invalid(f"target {url!r} is not a valid URL", errors=[_item("target", "not a URL")])
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise Invalid("target must use http or https", errors=[_item("target", "http or https only")])
    if parts.username or parts.password:
        raise Invalid("target must not carry credentials; use the connector's authentication",
                      errors=[_item("target", "no user:password@ in the URL")])
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise Invalid("target has no host", errors=[_item("target", "no host")])
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or SCHEMES[scheme], path


def check(url):
    """The checked target, or ``Invalid`` saying why it is refused (before any connection)."""
    scheme, host, port, path = parse(url)
    entries = allowed_entries()
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError):
            raise Invalid(f"target host {host!r} does not resolve", errors=[_item("target", "host does not resolve")])
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
        if not addresses:
            raise Invalid(f"target host {host!r} does not resolve", errors=[_item("target", "host does not resolve")])
    for address in addresses:
        if _listed_network(entries, address, port):
            continue
        if _is_special(address):
            raise Invalid(f"target {host!r} resolves to {address}, a loopback, link-local, private or reserved "
                          "address; WEBHOOK_ALLOWED_HOSTS must list it (as an IP or CIDR) before webhooks may "
                          "reach it", errors=[_item("target", "address not allowed")])
        if _listed_name(entries, host, port):
            continue
        raise Invalid(f"target host {host!r} (port {port}) is not allowed by WEBHOOK_ALLOWED_HOSTS",
                      errors=[_item("target", "host not allowed")])
    return Target(scheme, host, port, path, tuple(str(a) for a in addresses))


def _item(field, message):
    return {"code": "INVALID_VALUE", "field": field, "message": message}
