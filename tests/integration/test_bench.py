"""``paperlab bench`` produces its figures (values are timing-dependent: only sanity is asserted)."""

import json
import statistics

from tests.conftest import ROOT, run_paperlab


def test_bench_reports_overhead_wait_mfu_and_levers(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_paperlab("bench", "--config", str(ROOT / "configs/alexnet/demo.yaml"), "--rounds", "2",
                        "--steps", "2", "--fit-steps", "6", "--levers", "channels_last,render_cache", "--json", str(out),
                        "--data.init_args.train_size", "512", "--data.init_args.val_size", "64", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "overhead ratio" in proc.stdout and "data-wait share" in proc.stdout
    r = json.loads(out.read_text())
    assert r["lightning_step_ms"] > 0 and r["plain_step_ms"] > 0
    assert len(r["overhead_ratio_per_round"]) == 2
    assert r["overhead_ratio"] == statistics.median(r["overhead_ratio_per_round"])
    assert 0 <= r["data_wait_share"] < 1
    assert r["flops_per_sample"] > 1e7 and 0 < r["mfu_fit"] < 1.5
    assert r["inference"]["latency_bs1_ms"] > 0 and r["levers"]["channels_last"] > 0
    assert r["levers"]["render_cache"] > 1  # reading 576 stored images beats drawing them by far


def test_latency_mode_times_detectors_at_batch_1(tmp_path):
    out = tmp_path / "fps.json"
    configs = [str(ROOT / "configs/yolo/demo.yaml"), str(ROOT / "configs/faster_rcnn/demo.yaml")]
    proc = run_paperlab("bench", "--mode", "latency", "--config", configs[0], "--config", configs[1],
                        "--images", "8", "--threads", "1", "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r = json.loads(out.read_text())
    assert set(r) == set(configs) and all(v > 0 for v in r.values())
    assert "images/s at batch 1" in proc.stdout
