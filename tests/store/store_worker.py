"""A separate process for the store tests: a run worker to kill, a concurrent writer.

Usage:
    python store_worker.py train URL RUN_ID          claim the run, report progress forever
    python store_worker.py write URL DATA_DIR TAG N GO
                                                     when the file GO exists, write one
                                                     engagement with N run updates
    python store_worker.py open URL                  create the engine (first start)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from advisor import store


def train(url: str, run_id: int) -> None:
    engine = store.create_db_engine(url, recover=False)
    with store.open_session(engine) as session:
        store.mark_run_running(session, run_id, device="cpu", library_versions={"torch": "x"})
        step = 0
        while True:
            step += 1
            store.update_run_progress(session, run_id, "train", (step % 100) / 100, f"step {step}")
            if step == 3:
                print("ready", flush=True)
            time.sleep(0.005)


def write(url: str, data_dir: str, tag: str, n: int, go: str) -> None:
    engine = store.create_db_engine(url, recover=False)
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    started = time.time()
    source = Path(data_dir).parent / f"upload-{tag}"
    source.mkdir(parents=True, exist_ok=True)
    (source / "a").mkdir(exist_ok=True)
    (source / "a" / "x.png").write_bytes(tag.encode() * 100)
    with store.open_session(engine) as session:
        engagement = store.create_engagement(
            session, store.EngagementCreate(client=f"client {tag}", project=f"project {tag}")
        )
        dataset = store.store_sample(session, engagement.id, source, Path(data_dir))
        store.set_dataset_profile(session, dataset.id, {"n_images": 1, "tag": tag})
        rec = store.record_recommendation(
            session, dataset.id, {"tag": tag}, {"fired_rule_ids": [f"R-{tag}"]}, "k1"
        )
        run = store.start_run(session, dataset.id, {"tag": tag}, recommendation_id=rec.id)
        for i in range(n):
            store.update_run_progress(session, run.id, "train", (i + 1) / n, f"{tag} {i}")
        store.finish_run(session, run.id, {"metrics": {"accuracy": 0.5}, "tag": tag}, 1.0)
    ended = time.time()
    print(
        json.dumps(
            {"engagement": engagement.id, "run": run.id, "started": started, "ended": ended}
        ),
        flush=True,
    )


def main(argv: list[str]) -> None:
    mode = argv[1]
    if mode == "train":
        train(argv[2], int(argv[3]))
    elif mode == "write":
        write(argv[2], argv[3], argv[4], int(argv[5]), argv[6])
    elif mode == "open":
        store.create_db_engine(argv[2])
        print("opened", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv)
