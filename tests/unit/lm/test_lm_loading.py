"""litellm is loaded lazily, offline and quietly."""

import logging
import os
import subprocess
import sys

import pytest

from rlm_tui.lm import is_loaded, is_warm, load_litellm, warm_up


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_importing_the_package_does_not_import_litellm():
    result = run_python("import sys, rlm_tui.lm; print('litellm' in sys.modules)")

    assert result.stdout.strip() == "False"


def test_loading_uses_the_local_price_map_and_prints_nothing():
    result = run_python(
        "import os, sys\n"
        "from rlm_tui.lm import ModelCallError, ModelSpec, check_model, load_litellm\n"
        "load_litellm()\n"
        "try:\n"
        "    check_model(ModelSpec(model='foo/bar'))\n"
        "except ModelCallError:\n"
        "    pass\n"
        "sys.exit(0 if os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] == 'True' else 9)\n"
    )

    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == ""


def test_loading_reads_no_env_file():
    # litellm's DEV mode loads the first .env above its own directory (a project's, when
    # rlm-tui is installed in its venv): none may be read.
    result = run_python(
        "import dotenv\n"
        "read = []\n"
        "dotenv.load_dotenv = lambda *args, **kwargs: read.append(args) or True\n"
        "from rlm_tui.lm import load_litellm\n"
        "load_litellm()\n"
        "print(read)\n"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_litellms_loggers_have_no_terminal_handler():
    load_litellm()

    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logger = logging.getLogger(name)
        assert logger.propagate is False
        assert logger.level >= logging.WARNING
        assert all(isinstance(h, logging.NullHandler) for h in logger.handlers)


# litellm silences this pydantic warning at import; pytest resets filters per test.
@pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier.*:UserWarning")
async def test_warm_up_loads_litellm_and_primes_its_first_call_without_output(capfd):
    await warm_up()
    await warm_up()

    assert is_loaded() and is_warm()
    assert capfd.readouterr() == ("", "")


def test_preparing_an_openai_model_imports_aiohttp_but_not_litellm():
    result = run_python(
        "import sys\n"
        "from rlm_tui.lm import ModelSpec, prepare_models\n"
        "prepare_models([ModelSpec(model='openai/local', api_base='http://127.0.0.1:9/v1'),\n"
        "                ModelSpec(model='demo')]).join()\n"
        "print('aiohttp' in sys.modules, 'litellm' in sys.modules)\n"
    )

    assert result.stdout.split() == ["True", "False"], result.stderr


def test_preparing_a_model_that_cannot_work_raises_nothing():
    result = run_python(
        "from rlm_tui.lm import ModelSpec, prepare_models, is_warm\n"
        "prepare_models([ModelSpec(model='foo/bar')]).join()\n"
        "print(is_warm())\n"
    )

    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.strip() == "True"  # litellm was primed for it: its call says why
