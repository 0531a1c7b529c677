"""The app's background probe: the environment, then the validation engines and backbone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from advisor.session import create_context
from app_pages.common import EnvironmentProbe
before = "engines.validation" in sys.modules
probe_ctx = create_context(runner_kind="in-process")
probe = EnvironmentProbe(probe_ctx)
facts = probe.wait(300)
probe._thread.join(300)
exported = sorted(p.name for p in probe_ctx.jobs.feature_cache.glob("onnx/*.onnx"))
print(json.dumps({
    "before": before,
    "facts": facts is not None,
    "warm": probe.engines_warm,
    "after": "engines.validation" in sys.modules,
    "exported": [name.split("-")[0] for name in exported],
}))
"""


def test_the_probe_preloads_the_validation_engines_for_the_first_run(tmp_path):
    # A fresh interpreter: in this one the engines are long imported by other tests.
    env = {
        **os.environ,
        "FEASIBILITY_DATA_DIR": str(tmp_path),
        "FEASIBILITY_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("FEASIBILITY_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {
        "before": False,
        "facts": True,
        "warm": True,
        "after": True,
        # the first backbone's ONNX export waits in the runs' feature cache
        "exported": ["efficientnet_lite0"],
    }, proc.stderr
