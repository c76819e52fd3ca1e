"""get_backend: lazy imports, did-you-mean, missing packages and unknown options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prime_eval.backends import Backend, BackendError, available_backends, get_backend


def test_importing_the_package_loads_no_heavy_dependency():
    code = (
        "import sys, prime_eval.backends as b; b.get_backend.__name__; "
        "print(sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_names_and_did_you_mean():
    assert available_backends() == ["file", "hf", "openai", "vllm"]
    with pytest.raises(BackendError, match="unknown backend 'vlm'; did you mean 'vllm'"):
        get_backend("vlm", model="x")
    with pytest.raises(BackendError, match=r"unknown backend 'zzz' \(known: file, hf, openai, vllm\)"):
        get_backend("zzz")


@pytest.mark.parametrize(("name", "package", "extra"), [("hf", "torch", "hf"), ("hf", "transformers", "hf")])
def test_missing_package_says_which_extra(monkeypatch, name, package, extra):
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(
        BackendError, match=rf"needs the Python package '{package}'.*pip install 'prime-suite\[{extra}\]'"
    ):
        get_backend(name, model="x")


def test_unknown_option_gets_a_suggestion(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": 1, "response": "a"}\n')
    with pytest.raises(
        BackendError, match="unknown option\\(s\\) 'pth' \\(did you mean 'path'\\?\\); its options are: path"
    ):
        get_backend("file", pth=str(path))
    backend = get_backend("file", path=str(path))
    assert isinstance(backend, Backend) and backend.name == "file"
