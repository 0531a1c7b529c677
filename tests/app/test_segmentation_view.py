"""The Validate page shows segmentation scores with intervals and the overlays."""

from streamlit.testing.v1 import AppTest


def _script() -> None:
    import base64
    import io

    from PIL import Image

    from app_pages.results import draw_segmentation

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buf, format="PNG")
    seg = {
        "experiments": [
            {
                "strategy": "frozen_encoder",
                "epochs": 3,
                "metrics": {
                    "dice": {"value": 0.665, "ci_low": 0.55, "ci_high": 0.759},
                    "iou": {"value": 0.498, "ci_low": 0.379, "ci_high": 0.611},
                },
            }
        ],
        "skipped_strategies": [{"strategy": "full_finetune", "reason": "needs about 90 s"}],
        "overlays": [{"png_base64": base64.b64encode(buf.getvalue()).decode()}],
    }
    draw_segmentation(seg)


def test_scores_skips_and_overlays_are_shown():
    at = AppTest.from_function(_script).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.iloc[0]["Dice"] == "0.665 [0.550–0.759]"
    assert table.iloc[0]["IoU"] == "0.498 [0.379–0.611]"
    assert "full_finetune: needs about 90 s" in [c.value for c in at.caption]
