"""The README's table of result variables is the registry in variables.py."""

from pathlib import Path

from reriskmc.variables import VARIABLES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme__lists_every_result_variable_as_registered():
    text = README.read_text()
    table = text.split("<!-- variables table", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    expected = [
        f"| `{v.name}` | {', '.join(v.dims)} | {v.units} | {v.long_name} |" for v in VARIABLES
    ]
    assert rows == expected
