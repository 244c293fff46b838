# Quick start:  make demo   (speech in, animation files out)
#               make test   (the test suite; .ci/run calls exactly this)
.PHONY: setup demo test lint bench

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/probtalk animate probtalk/assets/hello.wav -o out/demo -e neutral,happy -n 2 --format npz,glb,csv,mp4

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .

bench: setup
	.venv/bin/python benchmarks/run_all.py
