from click.testing import CliRunner

from evidence.cli import cli


def test_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("init", "import", "harvest", "status", "demo"):
        assert name in result.output
