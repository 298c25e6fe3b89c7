"""Options and settings of the test suite."""

from hypothesis import settings

# The default profile is derandomised: every run tries the same examples, so a result
# does not depend on the day (`pytest --hypothesis-profile=explore` searches afresh,
# with more examples).
settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=1000)
settings.load_profile("default")


def pytest_addoption(parser):
    parser.addoption(
        "--ztable",
        action="store_true",
        help="print every closed-form check's expected and measured value and z-score "
        "(tests/stats); without it, one summary line",
    )
