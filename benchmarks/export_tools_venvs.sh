#!/usr/bin/env bash
# The virtual environments benchmarks/export_tools.py checks exports in: LLaMA-Factory and
# Axolotl, each beside a CPU torch (their own requirements would pull a CUDA build).
#   bash benchmarks/export_tools_venvs.sh DIR [TORCH]
# TORCH: what pip installs torch from (default torch==2.13.0: a CPU build where pip is set up
# to find one, e.g. a local wheel or the CPU index; give the wheel's path otherwise).
set -euo pipefail
dir=${1:?usage: export_tools_venvs.sh DIR [TORCH]}
torch=${2:-torch==2.13.0}
mkdir -p "$dir"
pin="$dir/torch-pin.txt"
echo "torch==2.13.0" > "$pin"  # every later install keeps this torch

python3 -m venv "$dir/llamafactory"
lf="$dir/llamafactory/bin"
"$lf/pip" install -q "$torch"
"$lf/pip" install -q -c "$pin" llamafactory
# PyPI's torchvision is a CUDA build: on a CPU torch it fails to load ("operator
# torchvision::nms does not exist") and breaks transformers' imports. LLaMA-Factory needs it
# only for images: remove it.
"$lf/pip" uninstall -q -y torchvision
# torchaudio has no release for torch 2.13 and its compiled library needs CUDA's
# (libc10_cuda.so). LLaMA-Factory imports it at start-up, for audio only: keep its Python
# code, without the compiled library it then does not try to load.
"$lf/pip" install -q -c "$pin" --no-deps --force-reinstall torchaudio
rm -f "$dir"/llamafactory/lib/python3*/site-packages/torchaudio/lib/*.so
"$lf/python" -c "import torch, llamafactory.data; assert not torch.version.cuda, torch.__version__"

python3 -m venv "$dir/axolotl"
ax="$dir/axolotl/bin"
"$ax/pip" install -q "$torch"
"$ax/pip" install -q -c "$pin" axolotl
"$ax/python" -c "import torch, axolotl.common.datasets; assert not torch.version.cuda, torch.__version__"
echo "ready: $lf/python and $ax/python"
