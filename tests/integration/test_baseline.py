"""``paperlab baseline --config X`` picks the trivial baselines of the config's data family."""

import json

import pytest

from experiments.baselines.baseline import baseline_scores
from tests.conftest import ROOT, run_paperlab

TINY = ["--data.init_args.train_size", "64", "--data.init_args.val_size", "24", "--data.init_args.batch_size", "16"]


def test_classification_baseline_command_writes_json(tmp_path):
    out = tmp_path / "b.json"
    proc = run_paperlab("baseline", "--config", str(ROOT / "configs/alexnet/demo.yaml"), "--json", str(out), *TINY,
                        cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["family"] == "classification" and set(r["scores"]) == {"majority_class", "linear_on_pixels"}
    assert 0 < r["scores"]["majority_class"]["val/acc1"] <= 1 and "linear_on_pixels" in proc.stdout


@pytest.mark.parametrize(("config", "family", "baselines", "extra"), [
    ("faster_rcnn", "detection", {"full_image_box", "centred_median_box"}, []),
    ("mask_rcnn", "detection", {"full_image_box", "centred_median_box"}, []),
    ("overfeat", "localisation", {"majority_class", "centred_median_box", "full_image_box"}, []),
    ("simclr", "ssl", {"majority_class", "linear_on_pixels"}, ["--data.init_args.bank_size", "32"]),
    ("c3d", "video", {"majority_class"}, []),
    ("unet", "segmentation", {"all_background", "pixel_linear"}, []),
    ("show_tell", "captioning", {"most_frequent_caption"}, []),
])
def test_each_family_gets_its_own_baselines(config, family, baselines, extra):
    got, scores = baseline_scores([str(ROOT / f"configs/{config}/demo.yaml")], [*TINY, *extra])
    assert got == family and set(scores) == baselines
    assert all(0 <= v <= 1 for metrics in scores.values() for v in metrics.values())
    if config == "mask_rcnn":
        assert "val/segm_map50" in scores["full_image_box"]  # scored on its masks too


def test_gan_feature_classifier_trains_and_writes_its_checkpoint(tmp_path):
    from experiments.baselines import gan_features

    ckpt = gan_features.main(["--out", str(tmp_path / "f.pt"), "--config", str(ROOT / "configs/wgan_gp/demo.yaml"),
                              "--train-size", "128", "--val-size", "64", "--epochs", "1"])
    assert (tmp_path / "f.pt").stat().st_size > 1000 and 0 <= ckpt["val_acc"] <= 1


def test_generation_baseline_is_the_untrained_generators_fid():
    """The untrained generator is scored by the module's own FID/KID; its FID is far from 0."""
    family, scores = baseline_scores([str(ROOT / "configs/wgan/demo.yaml")],
                                     ["--data.init_args.train_size", "64", "--data.init_args.val_size", "128"])
    fid = scores["untrained_generator"]
    assert family == "generation" and set(fid) == {"val/fid_shapes", "val/kid_shapes", "val/is_shapes"}
    assert fid["val/fid_shapes"] > 10  # noise around grey is nowhere near ShapesWorld's feature statistics


def test_captioning_baseline_says_one_caption_for_every_image():
    _, scores = baseline_scores([str(ROOT / "configs/show_tell/demo.yaml")], TINY)
    bleu = scores["most_frequent_caption"]
    assert bleu["val/bleu1"] >= bleu["val/bleu2"] >= bleu["val/bleu3"] >= bleu["val/bleu4"]  # n-grams get rarer
