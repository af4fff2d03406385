"""Steady mixed traffic for the soak run: ``python -m bench.soak_traffic`` with a JSON spec on stdin.

Open loop: requests start at a fixed rate whatever the server's latency (a slow server
sees requests pile up, as it would in production), at most ``max_in_flight`` at once.
Every accepted report id is written to ``accepted_path`` as it is learned, so nothing
is lost from the check even if this process dies. Prints a JSON summary at the end.

Mix per ``rate`` requests a second: 45% single POST /reports, 5% bulk POST of
``bulk_size``, 25% GET /reports/{id} of an accepted report, 5% GET /reports list,
5% GET /reports/count, 15% dashboard widget data (/v6/reports/{id}/{widget}).
"""
import asyncio
import json
import random
import sys
import time

from bench.loadgen import HOST, encode_request, read_response

MIX = (("post", 45), ("bulk", 5), ("get", 25), ("list", 5), ("count", 5), ("widget", 15))


class Traffic:
    def __init__(self, spec):
        self.spec = spec
        self.port = spec["port"]
        self.headers = spec["headers"]
        self.features = spec["features"]
        self.widgets = spec["widgets"]
        self.rng = random.Random(42)
        self.accepted = []
        self.accepted_file = open(spec["accepted_path"], "a", buffering=1)
        self.statuses = {}
        self.by_kind = {}
        self.server_errors = []
        self.client_errors = {}
        self.started = None
        self.counter = 0
        self.in_flight = 0
        self.skipped = 0

    def kinds(self):
        population = [kind for kind, weight in MIX for _ in range(weight)]
        while True:
            yield self.rng.choice(population)

    def request_for(self, kind):
        self.counter += 1
        n = self.counter
        if kind == "get" and not self.accepted:
            kind = "post"
        if kind == "post":
            body = {"referenceId": f"soak-{n}", "features": self.features[n % len(self.features)]}
            return kind, {"method": "POST", "path": "/reports", "headers": self.headers, "body": json.dumps(body)}
        if kind == "bulk":
            items = [{"referenceId": f"soak-{n}-{i}", "features": self.features[(n + i) % len(self.features)]}
                     for i in range(self.spec.get("bulk_size", 20))]
            return kind, {"method": "POST", "path": "/reports", "headers": self.headers, "body": json.dumps(items)}
        if kind == "get":
            report_id = self.accepted[self.rng.randrange(max(0, len(self.accepted) - 500), len(self.accepted))]
            return kind, {"method": "GET", "path": f"/reports/{report_id}", "headers": self.headers}
        if kind == "list":
            return kind, {"method": "GET", "path": "/reports?_limit=20", "headers": self.headers}
        if kind == "count":
            return kind, {"method": "GET", "path": "/reports/count?processed=false", "headers": self.headers}
        path = self.rng.choice(self.widgets)
        return kind, {"method": "GET", "path": path, "headers": self.headers}

    def remember(self, kind, status, body):
        if status != 200 or kind not in ("post", "bulk"):
            return
        try:
            data = json.loads(body)
        except ValueError:
            return
        ids = [data["id"]] if kind == "post" else [r["id"] for r in data.get("reports", []) if "id" in r]
        self.accepted.extend(ids)
        self.accepted_file.write("".join(f"{i}\n" for i in ids))

    async def one(self, kind, spec):
        self.in_flight += 1
        at = time.time()
        try:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            try:
                writer.write(encode_request(spec, self.port))
                status, _, body = await asyncio.wait_for(read_response(reader), self.spec.get("timeout", 30))
            finally:
                writer.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as exc:
            name = f"{kind}:{type(exc).__name__}"
            self.client_errors[name] = self.client_errors.get(name, 0) + 1
            return
        finally:
            self.in_flight -= 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        counts = self.by_kind.setdefault(kind, {})
        counts[status] = counts.get(status, 0) + 1
        if status >= 500:
            self.server_errors.append({"at": round(at, 2), "kind": kind, "status": status,
                                       "body": body[:200].decode("utf-8", "replace")})
        self.remember(kind, status, body)

    async def main(self):
        rate, seconds = self.spec["rate"], self.spec["seconds"]
        limit = self.spec.get("max_in_flight", 64)
        self.started = time.monotonic()
        tasks = set()
        kinds = self.kinds()
        n = 0
        while True:
            due = self.started + n / rate
            if due - self.started >= seconds:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            n += 1
            if self.in_flight >= limit:
                self.skipped += 1
                continue
            kind, spec = self.request_for(next(kinds))
            task = asyncio.create_task(self.one(kind, spec))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=60)
        self.accepted_file.close()
        return {
            "seconds": round(time.monotonic() - self.started, 1), "sent": n - self.skipped,
            "skipped_over_in_flight_limit": self.skipped, "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "by_kind": {k: {str(s): c for s, c in v.items()} for k, v in self.by_kind.items()},
            "server_errors": self.server_errors, "client_errors": self.client_errors,
            "accepted": len(self.accepted),
        }


def main():
    spec = json.load(sys.stdin)
    json.dump(asyncio.run(Traffic(spec).main()), sys.stdout)


if __name__ == "__main__":
    main()
