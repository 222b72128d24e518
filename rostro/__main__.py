from rostro.cli import run

run()
