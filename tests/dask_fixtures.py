"""A real Dask cluster for the tests: one ``dask scheduler`` and two ``dask worker`` processes
(the ``distributed`` package's own command line, from the venv) on free loopback ports.

Import the fixture into a test module (``from tests.dask_fixtures import dask_cluster``).
The workers get the checkout on PYTHONPATH: they run maiascore's partition functions.
"""
import os
import sys
from pathlib import Path

import pytest
from distributed import Client

from maiascore import devstack

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2


def _dask():
    return str(Path(sys.executable).with_name("dask"))


class Cluster:
    def __init__(self, address, scheduler, workers, logs):
        self.address, self.scheduler, self.workers, self.logs = address, scheduler, workers, logs

    def worker_count(self):
        with Client(self.address, timeout=10, set_as_default=False) as client:
            return len(client.nthreads())


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("dask")
    env = dict(os.environ, PYTHONPATH=str(ROOT), DASK_DISTRIBUTED__WORKER__DAEMON="False")
    port = devstack.free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = devstack.Child([_dask(), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                "--no-dashboard"], logs / "scheduler.log", env=env)
    devstack.wait_for_port("127.0.0.1", port, 60, scheduler.proc)
    workers = [devstack.Child([_dask(), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                               "--nworkers", "1", "--no-dashboard", "--memory-limit", "0", "--name", f"w{i}",
                               "--local-directory", str(logs / f"w{i}")], logs / f"worker{i}.log", env=env)
               for i in range(WORKERS)]
    try:
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(WORKERS, timeout=60)
        yield Cluster(address, scheduler, workers, logs)
    finally:
        devstack.stop_all([*workers, scheduler])
