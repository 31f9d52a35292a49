from mixopt.cli import run

run()
