"""The CLI's error boundary: our errors become one `Error:` line, bugs keep their traceback."""

import click
import pytest
from click.testing import CliRunner

from evidence.config import NotConfigured
from evidence.options import user_errors


def command(error: Exception) -> click.Command:
    @click.command()
    @user_errors
    def failing() -> None:
        raise error

    return failing


def test_user_error_is_one_line():
    result = CliRunner().invoke(command(NotConfigured("no search named 'x'")))
    assert result.exit_code == 1 and result.output == "Error: no search named 'x'\n"


def test_a_keyerror_bug_is_not_dressed_up_as_a_user_error():
    with pytest.raises(KeyError, match="missing_column"):
        CliRunner().invoke(command(KeyError("missing_column")), catch_exceptions=False)
