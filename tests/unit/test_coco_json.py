"""The one COCO json reader both COCO sources use: each malformed file fails naming file and problem."""

import json

import pytest

from contracts.errors import DatasetError
from datamodules.sources.coco import COCODetection
from datamodules.sources.coco_json import read_coco_json
from datamodules.sources.coco_keypoints import COCOKeypoints

GOOD = {"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}], "annotations": [],
        "categories": [{"id": 1, "name": "person"}]}


def _write(tmp_path, data, name="ann.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_a_good_file_is_returned_as_parsed(tmp_path):
    assert read_coco_json(_write(tmp_path, GOOD), "instances") == GOOD


@pytest.mark.parametrize(("data", "problem"), [
    ("{not json", "not json"),
    ({"images": [], "annotations": []}, "not a COCO keypoints file (no categories list)"),
    ({**GOOD, "annotations": {}}, "no annotations list"),
    ({**GOOD, "images": [{"id": 1, "file_name": "a.jpg"}]}, "images[0] has no width, height"),
    ({**GOOD, "categories": [{"name": "x"}]}, "categories[0] has no id"),
])
def test_a_malformed_file_names_itself_and_the_problem(tmp_path, data, problem):
    path = _write(tmp_path, data)
    with pytest.raises(DatasetError, match=r"ann\.json") as err:
        read_coco_json(path, "keypoints")
    assert problem in str(err.value)


def test_a_missing_file_shows_the_layout(tmp_path):
    with pytest.raises(DatasetError, match="annotation file is missing.\nExpected"):
        read_coco_json(tmp_path / "none.json", "instances", "Expected the layout")


@pytest.mark.parametrize(("source", "name"), [(COCODetection, "instances_val2017.json"),
                                              (COCOKeypoints, "person_keypoints_val2017.json")])
def test_both_coco_sources_read_through_it(tmp_path, source, name):
    (tmp_path / "annotations").mkdir()
    _write(tmp_path / "annotations", {"images": []}, name)
    with pytest.raises(DatasetError, match=f"{name}: not a COCO .* file \\(no annotations, categories list\\)"):
        source(tmp_path, "val2017")
