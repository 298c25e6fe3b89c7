"""Benchmark options: ``--short`` runs every benchmark on few paths (the CI mode)."""


def pytest_addoption(parser):
    parser.addoption(
        "--short",
        action="store_true",
        help="few paths and rounds: checks that benchmarks run and ratios hold grossly",
    )
