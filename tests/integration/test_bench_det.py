"""``paperlab bench --mode det_speed``: the detection speed table on tiny untrained models, one process."""

from __future__ import annotations

import json

from experiments.bench import det_speed
from tests.conftest import ROOT, paperlab_in_process

TINY = ["--data.init_args.train_size=2", "--data.init_args.val_size=3", "--data.init_args.batch_size=2"]


def test_det_speed_times_every_stage_and_fills_the_ratios_of_the_rows_present(tmp_path):
    # the one-stage and RPN rows (R-CNN's and Fast R-CNN's rows need their proposal cache)
    rows = [(label, config, TINY) for label, config, _ in det_speed.ROWS if label in ("Faster R-CNN", "SSD", "YOLO")]
    result = det_speed.measure(ROOT, tmp_path, images=2, train_steps=1, rows=rows)
    by = {r["label"]: r for r in result["rows"]}
    assert set(by) == {"Faster R-CNN", "SSD", "YOLO"}
    for r in result["rows"]:
        assert set(r["test_s"]) == {"proposals", "features", "head", "total"}
        assert r["test_s"]["total"] > 0 and r["train_s_per_image"] > 0
        assert "val/map50" not in r  # no demo run under tmp_path: untrained, said so
    assert by["Faster R-CNN"]["test_s"]["proposals"] > 0 and by["SSD"]["test_s"]["proposals"] == 0
    ratios = {x["what"]: x["measured"] for x in result["ratios"]}
    assert ratios["test: Faster R-CNN / SSD"] > 0
    assert ratios["test without proposals: R-CNN / Fast R-CNN"] is None  # no R-CNN row in this table
    lines = det_speed.table(json.loads(json.dumps(result)))  # what reproduce caches and reads back
    assert sum(line.startswith("| SSD |") for line in lines) == 1 and any("not trained" in x for x in lines)


def test_det_speed_refuses_a_checkpoint_without_its_config(tmp_path):
    code, _, err = paperlab_in_process("bench", "--mode", "det_speed", "--ckpt", str(tmp_path / "x.ckpt"), cwd=ROOT)
    assert code == 2 and "CONFIG=PATH" in err


def test_det_speed_counts_the_windows_and_retimes_them_with_another_selective_search_mode(tmp_path):
    # R-CNN's cost grows with the windows an image, Fast R-CNN's conv pass does not: the table says how many
    tiny = TINY + [f"--data.init_args.proposal_dir={tmp_path}", "--data.init_args.proposals=single"]
    rows = [(label, config, tiny) for label, config, _ in det_speed.ROWS if label in ("R-CNN", "Fast R-CNN")]
    base = det_speed.measure(ROOT, tmp_path, images=2, train_steps=1, rows=rows)
    more = det_speed.measure(ROOT, tmp_path, images=2, train_steps=1, rows=rows, proposal_mode="quality")
    for result in (base, more):
        counts = {r["windows_per_image"] for r in result["rows"]}
        assert len(counts) == 1 and counts.pop() > 0  # both score the same boxes
    assert more["rows"][0]["windows_per_image"] > base["rows"][0]["windows_per_image"]  # quality: ~3x fast's
    assert all(r["proposal_mode"] == "quality" for r in more["rows"]) and "proposal_mode" not in base["rows"][0]
    lines = "\n".join(det_speed.table(json.loads(json.dumps(more))))
    assert "Windows scored an image (selective search at test time, quality mode" in lines


def test_det_speed_rows_at_the_papers_window_count_are_timed_at_test_only_and_give_their_ratio(tmp_path):
    # the "~2000 proposals" rows: the demo weights on denser selective search, no training step, their own ratio
    dense = TINY + [f"--data.init_args.proposal_dir={tmp_path}", "--data.init_args.proposals=single",
                    "--data.init_args.proposal_scale=2.0", "--model.init_args.proposal_mode=single",
                    "--model.init_args.proposal_scale=2.0"]
    rows = [(label, config, dense) for label, config, _ in det_speed.ROWS if label in det_speed.TEST_ONLY]
    assert len(rows) == 2 and all(o.startswith("--data.init_args.") for o in det_speed.DENSE[:3])
    result = det_speed.measure(ROOT, tmp_path, images=2, train_steps=1, rows=rows)
    assert all("train_s_per_image" not in r and r["windows_per_image"] > 0 for r in result["rows"])
    assert not list(tmp_path.glob("shapes_train_*.pt"))  # the training split's proposals are not computed
    ratios = {x["what"]: x["measured"] for x in result["ratios"]}
    assert ratios["test without proposals, ~2000 windows: R-CNN / Fast R-CNN"] > 0
    lines = det_speed.table(json.loads(json.dumps(result)))
    assert any(line.startswith("| R-CNN, ~2000 proposals |") and "| — |" in line for line in lines)
