from rubberduck_cli.main import cli

cli(prog_name="rubberduck")
