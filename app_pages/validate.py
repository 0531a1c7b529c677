import time
from pathlib import Path

import streamlit as st

from advisor.intake import Intake
from advisor.pipeline import validate
from app_pages.common import LANGUAGE, RESULT_DIR, UPLOAD_ID, UPLOAD_ROOT, text, workspace
from engines.errors import EngineError

st.header(text("validate.header"))
if st.session_state[UPLOAD_ROOT] is None:
    st.info(text("validate.need_data"))
    st.stop()

budget = st.number_input(text("validate.budget"), min_value=10, max_value=3600, value=180,
                         step=10, key="validate_budget")
if st.button(text("validate.start"), type="primary", key="validate_start"):
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{st.session_state[UPLOAD_ID][:8]}"
    out_dir = workspace().run_dir(run_id)
    bar = st.progress(0.0, text=text("validate.running"))
    try:
        validate(
            Path(st.session_state[UPLOAD_ROOT]), out_dir,
            intake=Intake(language=st.session_state[LANGUAGE]),
            budget_seconds=float(budget), cache_dir=workspace().feature_cache,
            progress=lambda p: bar.progress(min(p.fraction, 1.0), text=p.message),
        )
    except (ValueError, EngineError, OSError) as exc:
        st.error(text("validate.error", message=str(exc)))
    else:
        st.session_state[RESULT_DIR] = str(out_dir)
        st.success(text("validate.done"))

if st.session_state[RESULT_DIR]:
    from advisor.result import load_result

    result = load_result(Path(st.session_state[RESULT_DIR]) / "result.json")
    for exp in result["experiments"]:
        acc = exp["metrics"]["accuracy"]
        st.metric(text("validate.accuracy"), f"{acc['value']:.1%}",
                  help=text("validate.interval", low=acc["ci_low"], high=acc["ci_high"]))
        st.caption(text("validate.interval", low=acc["ci_low"], high=acc["ci_high"])
                   + " · " + text("validate.seconds", seconds=exp["seconds"]))
