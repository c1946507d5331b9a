"""Smoke test of the benchmark script (tiny shapes; the real run is `python -m xnet.bench layers`)."""
from xnet import bench


def test_bench_layers_runs(capsys):
    bench.main(["layers", "--quick", "--compressions", "4", "--repeats", "1"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| cpu")]
    backends = {line.split("|")[6].strip().split("(")[0] for line in rows}
    assert {"dense", "G-Conv", "masked", "gather", "sparse", "block", "auto"} <= backends
    assert all(float(line.split("|")[8]) > 0 for line in rows)


def test_bench_models_runs(capsys):
    bench.main(["models", "--quick", "--repeats", "1"])
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in capsys.readouterr().out.splitlines()
            if line.startswith("| cpu")]
    by_variant = {r[2]: r for r in rows}
    assert set(by_variant) == {"dense", "G", "X", "X block8"}
    assert by_variant["dense"][6] == "1.00" and by_variant["G"][7] == "1.00"   # ratios to themselves
    # X (either graph) and G at the same compression: the same parameters and MACs, fewer than dense
    assert by_variant["X"][3:5] == by_variant["X block8"][3:5] == by_variant["G"][3:5]
    assert float(by_variant["X"][4]) < float(by_variant["dense"][4])
    assert all(float(r[5]) > 0 and float(r[8]) > 0 for r in rows)
