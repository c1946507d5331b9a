"""Smoke test of the benchmark script (tiny shapes; the real run is `python -m xnet.bench layers`)."""
from xnet import bench


def test_bench_layers_runs(capsys):
    bench.main(["layers", "--quick", "--compressions", "4", "--repeats", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| cpu")]
    backends = {line.split("|")[6].strip().split("(")[0] for line in rows}
    assert {"dense", "G-Conv", "masked", "gather", "sparse", "block", "auto"} <= backends
    assert all(float(line.split("|")[8]) > 0 for line in rows)
