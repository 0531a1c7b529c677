-- Rows as the v1 app wrote them (timestamps naive UTC, JSON as text).
INSERT INTO engagement (id, client, project, goal, deployment_target, language, created_at, updated_at)
VALUES (1, '한빛 타일', 'Surface defects', '결함 자동 검출', 'cpu', 'ko',
        '2026-01-05 09:30:00.000000', '2026-01-05 10:00:00.000000');
INSERT INTO dataset (id, engagement_id, content_hash, kind, stored_path, original_name, size_bytes,
                     file_count, profile, created_at)
VALUES (1, 1, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'file',
        'samples/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/sample.zip',
        'tiles.zip', 1234, 1, '{"n_images": 492, "class_counts": {"crack": 57, "free": 300}}',
        '2026-01-05 09:40:00.000000');
INSERT INTO recommendation (id, dataset_id, inputs, output, rule_trail, knowledge_version, created_at)
VALUES (1, 1, '{"intake": {"task": "segmentation"}}',
        '{"task": "segmentation", "strategy_id": "partial_finetune"}', '["TL-007"]', 'k-2026.01',
        '2026-01-05 09:45:00.000000');
INSERT INTO run (id, dataset_id, recommendation_id, config, status, stage, progress, message,
                 metrics, result, seconds, device, library_versions, error, pid, hostname,
                 created_at, started_at, finished_at)
VALUES (1, 1, 1, '{"budget_seconds": 180}', 'done', 'report', 1.0, 'done',
        '{"accuracy": 0.91}', '{"metrics": {"accuracy": 0.91}}', 171.5, 'cpu',
        '{"torch": "2.14.1"}', NULL, 4242, 'laptop', '2026-01-05 09:50:00.000000',
        '2026-01-05 09:50:01.000000', '2026-01-05 09:52:52.500000');
INSERT INTO report (id, engagement_id, run_id, format, path, created_at)
VALUES (1, 1, 1, 'html', 'reports/1/feasibility.html', '2026-01-05 09:53:00.000000');
