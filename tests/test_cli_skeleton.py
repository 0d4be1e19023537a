"""The command line assembles and answers --version and --help."""

from typer.testing import CliRunner

from marginlex import __version__
from marginlex.cli import app


def test_version_prints_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"marginlex {__version__}"
