"""HTTP/1.1 load generator: asyncio streams, one process, no dependency.

Run as ``python -m bench.loadgen`` with a JSON spec on stdin; prints a JSON result on
stdout. It runs in its own process so the client's CPU is never the server's.

Spec: ``{"port", "connections", "duration" | "total", "warmup", "requests": [{method,
path, headers, body}]}``. Requests are taken round-robin by all connections. A
``total`` run sends exactly that many requests (for "post N reports"), a ``duration``
run as many as fit (requests/s, latency). Responses with ``Connection: close`` (what
gunicorn's sync workers send) make the connection reconnect, and the connect time is
part of that request's latency, as it is for a real client of such a server.
"""
import asyncio
import json
import sys
import time

HOST = "127.0.0.1"  # load only ever goes to this machine's loopback


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


def encode_request(spec, port):
    body = spec.get("body")
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    body = (body or "").encode()
    headers = {"Host": f"{HOST}:{port}", "Connection": "keep-alive", "User-Agent": "maiascore-bench"}
    headers.update(spec.get("headers") or {})
    if body or spec.get("method", "GET") in ("POST", "PUT"):
        headers["Content-Length"] = str(len(body))
    head = f"{spec.get('method', 'GET')} {spec['path']} HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body


async def read_response(reader):
    """Returns (status, keep_alive, body bytes)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(data[:-2])
        body = b"".join(chunks)
    else:
        body = await reader.readexactly(int(headers.get("content-length", 0)))
    keep_alive = headers.get("connection", "").lower() != "close" and not lines[0].startswith("HTTP/1.0")
    return status, keep_alive, body


class Run:
    def __init__(self, spec):
        self.port = spec["port"]
        self.payloads = [encode_request(r, self.port) for r in spec["requests"]]
        self.connections = spec.get("connections", 8)
        self.duration = spec.get("duration")
        self.total = spec.get("total")
        self.warmup = spec.get("warmup", 0 if self.total else 1.0)
        self.keep_bodies = spec.get("keep_bodies", False)
        self.timeout = spec.get("timeout", 60)
        self.next_index = 0
        self.latencies = []
        self.statuses = {}
        self.answered = 0  # warm-up included: what the servers did while the run lasted
        self.errors = {}
        self.bodies = []
        self.measured_from = None
        self.stop_at = None

    def take(self):
        if self.total is not None and self.next_index >= self.total:
            return None
        if self.stop_at is not None and time.perf_counter() >= self.stop_at:
            return None
        payload = self.payloads[self.next_index % len(self.payloads)]
        self.next_index += 1
        return payload

    async def connection(self):
        reader = writer = None
        while True:
            payload = self.take()
            if payload is None:
                break
            started = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, self.port)
                writer.write(payload)
                status, keep_alive, body = await asyncio.wait_for(read_response(reader), self.timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as exc:
                name = type(exc).__name__
                self.errors[name] = self.errors.get(name, 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
                continue
            finished = time.perf_counter()
            self.answered += 1
            if started >= self.measured_from:
                self.latencies.append(finished - started)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if self.keep_bodies:
                    self.bodies.append(body.decode("utf-8", "replace"))
            if not keep_alive:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    async def main(self):
        start = time.perf_counter()
        self.measured_from = start + self.warmup
        if self.duration is not None:
            self.stop_at = self.measured_from + self.duration
        await asyncio.gather(*(self.connection() for _ in range(self.connections)))
        end = time.perf_counter()
        return self.result(end - self.measured_from)

    def result(self, elapsed):
        lat = sorted(self.latencies)
        ok = sum(n for s, n in self.statuses.items() if s < 400)
        return {
            "connections": self.connections,
            "seconds": round(elapsed, 3),
            "requests": len(lat),
            "answered_including_warmup": self.answered,
            "ok": ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
            "rps": round(len(lat) / elapsed, 1) if elapsed > 0 else None,
            "p50_ms": round(percentile(lat, 50) * 1000, 2) if lat else None,
            "p99_ms": round(percentile(lat, 99) * 1000, 2) if lat else None,
            "mean_ms": round(sum(lat) / len(lat) * 1000, 2) if lat else None,
            "bodies": self.bodies if self.keep_bodies else None,
        }


def main():
    spec = json.load(sys.stdin)
    result = asyncio.run(Run(spec).main())
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
