"""``paperlab bench --data``: writes the JPEG folder and prints images/s for PIL and torchvision.io, with ratios."""

from __future__ import annotations

import re

from tests.conftest import run_paperlab


def test_bench_data_prints_the_ratio_table(tmp_path):
    proc = run_paperlab("bench", "--data", "--data_images", "12", "--rounds", "2", "--block", "6",
                        "--data_dir", str(tmp_path / "jpegs"), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((tmp_path / "jpegs" / "train").glob("*/*.JPEG"))) == 12
    rows = {m.group(1): m.groups()[1:] for m in
            re.finditer(r"^\| (pil decode|tvio decode|pil \+ recipe|tvio \+ recipe) \| ([\d.]+) \|\s*([\d.]*)\s*\|$",
                        proc.stdout, re.MULTILINE)}
    assert set(rows) == {"pil decode", "tvio decode", "pil + recipe", "tvio + recipe"}, proc.stdout
    assert all(float(rate) > 0 for rate, _ in rows.values())
    assert float(rows["tvio decode"][1]) > 0 and float(rows["tvio + recipe"][1]) > 0
