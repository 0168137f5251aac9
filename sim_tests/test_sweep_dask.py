"""lowbit sweep --scheduler: the same sweep on a Dask distributed cluster (a LocalCluster on
loopback here) gives the local pool's rows, fills the same cache, and an address that does not
answer is one error line."""

import socket
import subprocess
import sys
from concurrent.futures import Executor, Future

import pytest
from distributed import LocalCluster

from lowbit.core.errors import LowbitError
from lowbit.sweep import SCHEDULER_TIMEOUT_S, dask_client, run_sweep

SMALL = """
targets = ["generic"]
baselines = true

[[grid]]
unit = "pot_mac"
params = { bits = 2, acc_bits = 16, pipeline = 0 }   # and its INT4 baseline
pnr = false
"""

_RUN_SPECIFIC = ("seconds", "cached")  # wall time and cache state differ between runs


def _results(rows):
    return [{k: v for k, v in row.items() if k not in _RUN_SPECIFIC} for row in rows]


@pytest.fixture(scope="module")
def cluster():
    # One worker thread in this process: light on a 2-core machine, but the client still
    # talks to the scheduler over TCP, as it would to a remote cluster.
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as local_cluster:
        yield local_cluster


def test_cluster_rows_equal_the_local_pool_rows_and_rerun_from_cache(tmp_path, cluster):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    local = run_sweep(config, out=tmp_path / "local", jobs=2, progress=False)
    assert len(local) == 2 and not any(row["error"] for row in local)

    address = cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    remote = run_sweep(config, out=tmp_path / "dask", scheduler=address, progress=False)
    assert not any(row["cached"] for row in remote)
    assert _results(remote) == _results(local)
    assert len(list((tmp_path / "dask" / "cache").glob("*.json"))) == 2

    again = run_sweep(config, out=tmp_path / "dask", scheduler=address, progress=False)
    assert all(row["cached"] for row in again)
    assert _results(again) == _results(local)


def test_unreachable_scheduler_is_one_error_line_after_the_timeout():
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LowbitError) as caught:
        dask_client(f"tcp://127.0.0.1:{port}")
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within " \
           f"{SCHEDULER_TIMEOUT_S} s" in str(caught.value)


def test_malformed_scheduler_address_is_one_error_line(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    done = subprocess.run([sys.executable, "-m", "lowbit", "sweep", str(config), "--out",
                           str(tmp_path / "out"), "--scheduler", "127.0.0.1"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "is not a Dask scheduler address (tcp://HOST:PORT)" in done.stderr


class _LostWorkers(Executor):
    """An executor whose every job dies with its worker, as a killed Dask worker's would."""

    def submit(self, fn, *args, **kwargs):
        future = Future()
        future.set_exception(RuntimeError("worker lost"))
        return future


def test_a_point_whose_worker_dies_is_recorded_and_not_cached(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    rows = run_sweep(config, out=tmp_path / "out", executor=_LostWorkers(), progress=False)
    assert [row["error"] for row in rows] == ["RuntimeError: worker lost"] * 2
    assert not list((tmp_path / "out" / "cache").glob("*.json"))
    assert "worker lost" in (tmp_path / "out" / "results.csv").read_text()
