from evidence.cli import cli

cli(prog_name="evidence")
