"""Recipes: ROI-centred positives, card and evaluation sections, Raven and clip-list data,
resampled synthetic backgrounds, evaluation.json from a split and from leave-one-out, and the
shipped recipes as package data."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from edge.config import load_deployment
from tests.support.data import DEPLOYMENTS
from tests.support.training import CONFIG
from training.cli.train import main
from training.config import SyntheticSettings, load_config
from training.datasets import build_annotated, build_clips
from training.metrics import window_metrics
from training.recipe import run_recipe, shipped_model_note
from training.sources import write_synthetic
from training.synth import synth_recording
from training.types import AnnotationError, TrainConfigError

torch.set_num_threads(1)

CARD = {
    "description": "test model",
    "intended_use": "tests",
    "split": "by recording",
    "synthetic": True,
    "data": [{"name": "synthetic", "source": "training/synth.py", "licence": "MIT"}],
    "limitations": ["synthetic only"],
}
TINY = {"epochs": 3, "batch_size": 16, "patience": 3, "threads": 1, "steps_per_epoch": 6, "progress": False}


def write(folder: Path, **changes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "train": TINY, **changes}))
    return path


@pytest.fixture
def narw():
    return load_deployment(DEPLOYMENTS / "narw-upcall.yaml")


def test_roi_positives_are_the_crop_inference_takes(narw, write_audio, rng):
    x, anns = synth_recording(
        rng, sample_rate=2000, duration_s=90, calls={"upcall": 5}, snr_db=(12, 15), name="rec.wav"
    )
    path = str(write_audio("rec.wav", x, 2000, subtype="FLOAT"))
    ds = build_annotated(
        {path: anns},
        narw,
        window_s=2.0,
        classes=("noise", "upcall"),
        seed=0,
        negatives_per_recording=0,
        roi_positives=3,
        roi_jitter_s=0.1,
    )
    roi = [(r, y) for r, y in zip(ds.refs, ds.y) if r.kind == "roi_positive"]
    assert len(roi) >= 3 * 3 and len(roi) % 3 == 0  # the detector finds most of the 5 calls
    for ref, y in roi:
        assert y == 1
        centre = ref.offset_s + 1.0  # the window is centred on an ROI holding a call
        assert any(a.start_s - 1.0 < centre < a.end_s + 1.0 for a in anns)
    without = build_annotated(
        {path: anns}, narw, window_s=2.0, classes=("noise", "upcall"), seed=0, negatives_per_recording=0
    )
    assert "roi_positive" not in {r.kind for r in without.refs}


def test_hard_negatives_from_background_only(narw, write_audio, rng):
    """hard_negatives: background takes unlabelled ROIs as negatives only from recordings with no
    annotation: an annotated recording's unlabelled candidates may be calls nobody marked."""
    x, anns = synth_recording(
        rng, sample_rate=2000, duration_s=60, calls={"upcall": 6}, snr_db=(12, 15), name="day.wav"
    )
    day = str(write_audio("day.wav", x, 2000, subtype="FLOAT"))
    bg = str(write_audio("bg.wav", upcall_noise(rng), 2000, subtype="FLOAT"))
    labelled = {day: anns[:3], bg: []}  # three of the six calls were annotated
    kinds = {}
    for mode in (True, "background"):
        ds = build_annotated(
            labelled,
            narw,
            window_s=2.0,
            classes=("noise", "upcall"),
            seed=0,
            negatives_per_recording=0,
            hard_negatives=mode,
        )
        kinds[mode] = {(Path(r.source).name, r.kind) for r in ds.refs}
    assert ("day.wav", "hard_negative") in kinds[True]  # the unannotated calls, taught as noise
    assert ("day.wav", "hard_negative") not in kinds["background"]
    assert ("bg.wav", "hard_negative") in kinds["background"]
    cfg = Path(write_audio("x.wav", x, 2000)).parent / "cfg"
    for vet, message in [
        ({"teacher": "t", "above": 1.5}, "above=1.5 must be <= 1"),
        ({"teacher": "t", "by": 1}, "must be {teacher: RUN_FOLDER, above: SCORE}"),
        ({"above": 0.5}, "must be {teacher: RUN_FOLDER, above: SCORE}"),
    ]:
        with pytest.raises(TrainConfigError, match=message):
            load_config(write(cfg, data={**CONFIG["data"], "vet_hard_negatives": vet}))
    with pytest.raises(TrainConfigError, match="vet_hard_negatives: needs hard_negatives: true"):
        load_config(
            write(cfg, data={**CONFIG["data"], "hard_negatives": False, "vet_hard_negatives": {"teacher": "t"}})
        )
    with pytest.raises(TrainConfigError, match="hard_negatives='some' must be true, false or background"):
        load_config(
            write(Path(write_audio("x.wav", x, 2000)).parent / "cfg", data={**CONFIG["data"], "hard_negatives": "some"})
        )


def upcall_noise(rng) -> np.ndarray:
    """A minute of background with tonal sweeps in the upcall band but no annotation."""
    x, _ = synth_recording(rng, sample_rate=2000, duration_s=60, calls={"upcall": 4}, snr_db=(12, 15), name="bg.wav")
    return x


def test_card_is_validated_with_its_key_named(tmp_path):
    assert load_config(write(tmp_path, card=CARD)).card.synthetic is True
    assert load_config(write(tmp_path)).card is None
    for bad, message in [
        ({**CARD, "synthetic": "yes"}, "synthetic='yes' is not true/false"),
        ({k: v for k, v in CARD.items() if k != "description"}, "description"),
        ({**CARD, "data": [{"name": "x", "source": "y"}]}, r"data\[0\].licence"),
        ({**CARD, "colour": "red"}, "unknown key 'colour'"),
    ]:
        with pytest.raises(TrainConfigError, match=message) as info:
            load_config(write(tmp_path, card=bad))
        assert "train.yaml: card" in str(info.value)
    with pytest.raises(TrainConfigError, match="kind=loro needs folds"):
        load_config(write(tmp_path, evaluation={"kind": "loro"}))


def test_inference_policy_is_validated_with_its_key_named(tmp_path):
    from edge.crops import CENTRE, CropPolicy
    from training.evaluate import run_policy

    assert load_config(write(tmp_path)).inference.policy() == CENTRE
    config = load_config(write(tmp_path, inference={"crop": "scan", "scan_hop_s": 0.5}))
    assert config.inference.policy() == CropPolicy("scan", 0.5)
    for bad, message in [
        ({"crop": "middle"}, "crop='middle' is not one of centre, scan"),
        ({"crop": "scan", "scan_hop_s": -1}, "scan_hop_s=-1 must be a number > 0"),
        ({"crop": "scan", "hop": 1}, "unknown key 'hop'"),
        ({"pad": "zeros"}, "pad='zeros' is not one of edge, loop"),
    ]:
        with pytest.raises(TrainConfigError, match=message) as info:
            load_config(write(tmp_path, inference=bad))
        assert "train.yaml: inference" in str(info.value)
    run = tmp_path / "run"  # a run folder's config.yaml carries the policy (edge-convert, evaluate read it)
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(config.as_dict(relative_to=run)))
    assert run_policy(run) == CropPolicy("scan", 0.5)
    (run / "config.yaml").write_text(yaml.safe_dump({**config.as_dict(relative_to=run), "inference": None}))
    assert run_policy(run) == CENTRE  # runs written before the key existed
    looped = load_config(write(tmp_path, inference={"pad": "loop"}))
    (run / "config.yaml").write_text(yaml.safe_dump(looped.as_dict(relative_to=run)))
    assert run_policy(run) == CropPolicy(pad="loop")
    # data.scan_rois takes the windows a scanning policy scores: meaningless for centred crops
    scanning = load_config(write(tmp_path, data={**CONFIG["data"], "scan_rois": True}, inference={"crop": "scan"}))
    assert scanning.data.scan_rois
    with pytest.raises(TrainConfigError, match="scan_rois takes the windows inference scans: it needs"):
        load_config(write(tmp_path, data={**CONFIG["data"], "scan_rois": True}))
    with pytest.raises(TrainConfigError, match="scan_rois='yes' must be true or false"):
        load_config(write(tmp_path, data={**CONFIG["data"], "scan_rois": "yes"}, inference={"crop": "scan"}))


def test_top3_accuracy_for_rankings():
    probs = np.array([[0.5, 0.3, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    m = window_metrics(np.array([0, 0, 2]), probs, ["a", "b", "c", "d"])
    assert m["top1_accuracy"] == pytest.approx(1 / 3) and m["top3_accuracy"] == pytest.approx(2 / 3)
    assert "top3_accuracy" not in window_metrics(np.array([0, 1]), np.eye(2), ["a", "b"])


def test_log_loss_is_the_mean_surprise_of_the_true_class_and_floors_a_zero_score():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [1.0, 0.0]])
    m = window_metrics(np.array([0, 1, 1]), probs, ["a", "b"])
    assert m["log_loss"] == pytest.approx((-np.log(0.9) - np.log(0.8) - np.log(1e-7)) / 3)
    assert window_metrics(np.array([0, 1]), np.eye(2), ["a", "b"])["log_loss"] == pytest.approx(0.0)


RAVEN = "Selection\tView\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tCall\n"


@pytest.mark.slow
def test_raven_tables_as_recipe_annotations(tmp_path, rng):
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(6):
        x, anns = synth_recording(
            rng, sample_rate=2000, duration_s=40, calls={"upcall": 6}, snr_db=(8, 15), name=f"r{i}.wav"
        )
        sf.write(folder / f"r{i}.wav", x, 2000, subtype="FLOAT")
        rows = "".join(
            f"{k}\tSpectrogram 1\t{a.start_s}\t{a.end_s}\t{a.low_hz}\t{a.high_hz}\tUP\n" for k, a in enumerate(anns, 1)
        )
        (folder / f"r{i}.Table.1.selections.txt").write_text(RAVEN + rows)
    data = {"annotations": "data", "raven_label_column": "Call", "labels": {"UP": "upcall"}}
    config = load_config(write(tmp_path, data=data, train=CONFIG["train"]))
    metrics = run_recipe(config)
    assert metrics["windows"]["balanced_accuracy"] >= 0.75
    refs = json.loads((tmp_path / "run" / "split.json").read_text())
    assert sorted(Path(g).name for part in refs.values() for g in part) == [f"r{i}.wav" for i in range(6)]
    with pytest.raises(SystemExit) as info:
        main(
            [
                "evaluate",
                str(tmp_path / "run"),
                "--annotations",
                str(folder),
                "--label-column",
                "Call",
                "--label",
                "UP=upcall",
            ]
        )
    assert info.value.code == 0
    assert json.loads((tmp_path / "run" / "evaluate.json").read_text())["events"]["per_class"]["upcall"]["tp"] > 0


@pytest.mark.parametrize(
    "rows,message,line",
    [
        ("1\tSpectrogram 1\t3.0\t2.0\t50\t250\tUP\n", "end 2.0 is not after start 3.0", 2),
        (
            "1\tSpectrogram 1\t1.0\t2.0\t50\t250\tUP\n2\tSpectrogram 1\t38\t41\t50\t250\tUP\n",
            "past the end of r0.wav",
            3,
        ),
        ("1\tSpectrogram 1\t1.0\t2.0\t50\t250\tDOWN\n", "unknown label 'DOWN'", 2),
    ],
)
def test_bad_raven_rows_name_file_and_line(tmp_path, write_audio, rows, message, line):
    write_audio("r0.wav", np.zeros(80000), 2000, folder=tmp_path / "data")
    table = tmp_path / "data" / "r0.Table.1.selections.txt"
    table.write_text(RAVEN + rows)
    config = load_config(
        write(tmp_path, data={"annotations": "data", "raven_label_column": "Call", "labels": {"UP": "upcall"}})
    )
    with pytest.raises(AnnotationError, match=message) as info:
        run_recipe(config)
    assert f"{table}: line {line}:" in str(info.value)


def test_raven_label_column_missing_or_table_without_recording(tmp_path, write_audio):
    write_audio("r0.wav", np.zeros(80000), 2000, folder=tmp_path / "data")
    (tmp_path / "data" / "r0.Table.1.selections.txt").write_text(RAVEN + "1\tSpectrogram 1\t1\t2\t50\t250\tUP\n")
    config = load_config(write(tmp_path, data={"annotations": "data", "raven_label_column": "Species"}))
    with pytest.raises(AnnotationError, match=r"r0.Table.1.selections.txt: line 1: missing column\(s\) 'Species'"):
        run_recipe(config)
    (tmp_path / "data" / "zz.selections.txt").write_text(RAVEN)
    with pytest.raises(AnnotationError, match=r"zz.selections.txt: line 1: no recording named zz"):
        run_recipe(load_config(write(tmp_path, data={"annotations": "data", "raven_label_column": "Call"})))


def test_clip_list_groups_and_errors(tmp_path, write_audio, rng):
    deployment = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    for i in range(3):
        write_audio(f"clips/c{i}.wav", rng.normal(0, 0.1, 2000 * 3), 2000)
    listing = tmp_path / "clips.csv"
    listing.write_text("path,label,group\nclips/c0.wav,moan,enc1\nclips/c1.wav,moan,enc1\nclips/c2.wav,grunt,\n")
    ds = build_clips(listing, deployment, window_s=1.0)
    assert ds.classes == ("grunt", "moan")
    assert sorted(set(ds.groups.tolist())) == sorted(["enc1", str(tmp_path / "clips" / "c2.wav")])
    listing.write_text("path,species\nclips/c0.wav,moan\n")
    with pytest.raises(TrainConfigError, match=r"clips.csv: line 1: missing column\(s\) label"):
        build_clips(listing, deployment, window_s=1.0)
    listing.write_text("path,label\nclips/c0.wav,moan\nclips/nope.wav,moan\n")
    with pytest.raises(TrainConfigError, match=r"clips.csv: line 3: no clip at"):
        build_clips(listing, deployment, window_s=1.0)


def test_synthetic_background_resampled_only_when_allowed(tmp_path, write_audio, rng):
    bg = write_audio("bg.wav", rng.normal(0, 0.05, 4000 * 12), 4000)
    settings = dict(recordings=2, duration_s=10, sample_rate=8000, calls={"upcall": 2}, background="bg.wav")
    with pytest.raises(TrainConfigError, match="4000 Hz, synthetic sample_rate is 8000"):
        write_synthetic(SyntheticSettings(**settings), tmp_path / "a", seed=0, base=bg.parent)
    csv_path = write_synthetic(
        SyntheticSettings(**settings, resample_background=True, noise_rms=0.001), tmp_path / "b", seed=0, base=bg.parent
    )
    x, rate = sf.read(csv_path.parent / "synthetic_000.wav")
    assert rate == 8000 and len(x) == 80000
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    low, high = spectrum[: len(spectrum) // 2].mean(), spectrum[len(spectrum) // 2 :].mean()
    assert low > 30 * high  # the real background fills 0-2 kHz; above it only the faint noise


@pytest.mark.slow
def test_split_recipe_writes_a_self_contained_run_folder(tmp_path):
    config = load_config(write(tmp_path, card=CARD, evaluation={"kind": "split", "threshold": 0.5}))
    result = run_recipe(config)
    run = tmp_path / "run"
    saved = json.loads((run / "evaluation.json").read_text())
    assert saved["events"]["overall"]["tp"] == result["events"]["overall"]["tp"]
    assert saved["kind"] == "split" and saved["threshold"] == 0.5
    test = json.loads((run / "split.json").read_text())["test"]
    assert saved["test_groups"] == test and saved["recordings"] == len(test) > 0
    assert {"precision", "recall", "fp_per_hour"} <= set(saved["events"]["overall"])
    assert [p["threshold"] for p in saved["curve"]] == sorted(p["threshold"] for p in saved["curve"])
    assert yaml.safe_load((run / "config.yaml").read_text())["card"]["synthetic"] is True
    saved_config = load_config(run / "config.yaml")  # loads where it lies: paths relative to the run
    assert saved_config.path(saved_config.deployment).resolve() == (DEPLOYMENTS / "narw-upcall.yaml").resolve()
    assert saved_config.path(saved_config.out).resolve() == run.resolve()
    for name in ("config.yaml", "frontend.json", "best.pt", "metrics.json"):
        assert (run / name).is_file()


@pytest.mark.slow
def test_loro_recipe_pools_held_out_folds_and_ships_a_model_on_all(tmp_path):
    data = {
        "synthetic": {"recordings": 4, "duration_s": 30, "sample_rate": 2000, "calls": {"upcall": 5}, "snr_db": [8, 15]}
    }
    folds = [["synthetic_000.wav", "synthetic_001.wav"], ["synthetic_002.wav", "synthetic_003.wav"]]
    config = load_config(
        write(
            tmp_path,
            data=data,
            split={"val": 0, "test": 0},
            evaluation={"kind": "loro", "threshold": 0.6, "folds": folds},
        )
    )
    result = run_recipe(config)
    run = tmp_path / "run"
    folds_out = result["folds"]
    assert [f["holdout"] for f in folds_out] == folds
    for k in range(2):
        held = json.loads((run / "loro" / f"fold_{k}" / "split.json").read_text())
        assert sorted(Path(g).name for g in held["test"]) == folds[k]
        assert not {Path(g).name for g in held["train"]} & set(folds[k])
    pooled = result["events"]
    assert pooled["tp"] == sum(f["events"]["tp"] for f in folds_out)
    assert pooled["fp"] == sum(f["events"]["fp"] for f in folds_out)
    assert pooled["tp"] + pooled["fn"] == 20  # every call of the four recordings, each held out once
    at = [p for p in result["curve"] if p["threshold"] == 0.6]
    assert at and (at[0]["tp"], at[0]["fp"]) == (pooled["tp"], pooled["fp"])
    for i, point in enumerate(result["curve"]):  # each held-out day's curve, summing to the pooled one
        per_day = [f["curve"][i] for f in folds_out]
        assert all(p["threshold"] == point["threshold"] for p in per_day)
        assert sum(p["tp"] for p in per_day) == point["tp"] and sum(p["fp"] for p in per_day) == point["fp"]
    for f in folds_out:
        mine = [p for p in f["curve"] if p["threshold"] == 0.6]
        assert mine and (mine[0]["tp"], mine[0]["fp"]) == (f["events"]["tp"], f["events"]["fp"])
    shipped = json.loads((run / "split.json").read_text())
    assert len(shipped["train"]) == 4 and shipped["test"] == []
    assert json.loads((run / "evaluation.json").read_text())["kind"] == "loro"
    assert result["shipped_model"].startswith("trained on every recording; its own training-set windows")


def test_shipped_recipes_are_package_data_and_valid():
    recipes = Path(str(files("training") / "recipes"))
    names = sorted(p.stem for p in recipes.glob("*.yaml"))
    assert names == ["beluga-demo", "multispecies", "narw-upcall"]
    for name in names:
        config = load_config(recipes / f"{name}.yaml")
        assert config.card is not None and config.evaluation is not None, name
        assert config.card.synthetic == (name == "beluga-demo")
        assert Path(config.deployment).name and config.path(config.deployment).is_file()
    assert (recipes / "multispecies-clips.csv").is_file()


def test_more_sources_add_another_day_and_synthetic_calls(tmp_path, rng):
    """data.more: a second annotated folder (another day) and synthetic calls in a background
    recording join the first source's recordings; a recording annotated twice is refused."""
    from training.sources import config_recordings

    for day in ("day1", "day2"):
        folder = tmp_path / day
        folder.mkdir()
        x, anns = synth_recording(rng, sample_rate=2000, duration_s=30, calls={"upcall": 3}, name=f"{day}.wav")
        sf.write(folder / f"{day}.wav", x, 2000, subtype="FLOAT")
        (folder / "truth.csv").write_text(
            "filename,start,end,label\n" + "".join(f"{a.file},{a.start_s},{a.end_s},up\n" for a in anns)
        )
    sf.write(tmp_path / "sea.wav", (rng.normal(0, 0.01, 48000 * 12)).astype(np.float32), 48000, subtype="FLOAT")
    data = {
        "annotations": "day1/truth.csv",
        "labels": {"up": "upcall"},
        "more": [
            {"annotations": "day2/truth.csv", "audio_dir": "day2"},
            {
                "synthetic": {
                    "recordings": 2,
                    "duration_s": 10,
                    "calls": {"upcall": 2},
                    "snr_db": [0, 5],
                    "background": "sea.wav",
                    "resample_background": True,
                }
            },
        ],
    }
    config = load_config(write(tmp_path, data=data))
    recordings = config_recordings(config, tmp_path / "run")
    names = sorted(Path(p).name for p in recordings)
    assert names == ["day1.wav", "day2.wav", "synthetic_000.wav", "synthetic_001.wav"]
    assert sum(len(a) for a in recordings.values()) == 3 + 3 + 4
    assert sf.info(str(next(p for p in recordings if p.endswith("synthetic_000.wav")))).samplerate == 2000
    data["more"][0] = {"annotations": "day1/truth.csv", "audio_dir": "day1"}
    with pytest.raises(TrainConfigError, match="annotated by more than one source"):
        config_recordings(load_config(write(tmp_path, data=data)), tmp_path / "run2")
    with pytest.raises(TrainConfigError, match=r"train.yaml: data: more\[0\]="):
        load_config(write(tmp_path, data={**data, "more": [{"annotations": "x.csv", "colour": "red"}]}))


def test_a_teacher_run_vets_the_hard_negatives_of_annotated_days(tmp_path, rng):
    """data.vet_hard_negatives: a trained run scores an annotated day's unlabelled candidates;
    those at or over ``above`` leave the dataset, a background file's all stay.  A folder
    holding no trained model is refused by name."""
    from training.loop import train
    from training.sources import build_dataset

    teacher = load_config(write(tmp_path / "teacher", train={**TINY, "epochs": 1}))
    train(teacher)
    x, anns = synth_recording(rng, sample_rate=2000, duration_s=60, calls={"upcall": 6}, snr_db=(12, 15), name="d.wav")
    sf.write(tmp_path / "d.wav", x, 2000, subtype="FLOAT")
    sf.write(tmp_path / "bg.wav", upcall_noise(rng), 2000, subtype="FLOAT")
    (tmp_path / "truth.csv").write_text(
        "filename,start,end,label\n" + "".join(f"{a.file},{a.start_s},{a.end_s},up\n" for a in anns[:3])
    )
    data = {"annotations": "truth.csv", "labels": {"up": "upcall"}, "background": ["bg.wav"]}

    def hard(vet, out):
        config = load_config(write(tmp_path, data={**data, **({"vet_hard_negatives": vet} if vet else {})}))
        ds = build_dataset(config, tmp_path / out)
        return sorted(Path(r.source).name for r in ds.refs if r.kind == "hard_negative")

    every = hard(None, "plain")
    assert "d.wav" in every and "bg.wav" in every
    # any score passes a threshold this low: the day's candidates all go, the background's stay
    assert hard({"teacher": "teacher/run", "above": 1e-9}, "vetted") == [n for n in every if n == "bg.wav"]
    with pytest.raises(TrainConfigError, match="holds no trained model"):
        hard({"teacher": "nowhere"}, "none")


def _tone_db(x: np.ndarray, hz: float, rate: int = 2000) -> float:
    """Power at ``hz`` over the median of the spectrum, dB (a Hann-windowed periodogram)."""
    p = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float(10 * np.log10(p[np.argmin(np.abs(f - hz))] / np.median(p)))


def test_synthetic_calls_in_the_annotated_days_quiet_stretches(tmp_path, rng):
    """annotated_background: that share of the synthetic recordings is mixed into the annotated
    recordings' own noise, a recording at a time, never within quiet_margin_s of an annotation
    and never a held-out recording's; the rest into the listed background."""
    from training.sources import config_recordings, quiet_stretches
    from training.types import Annotation

    rate, t = 2000, np.arange(60 * 2000) / 2000
    for day, marker, (c0, c1) in (("day1", 300.0, (20.0, 21.0)), ("day2", 500.0, (30.0, 31.0))):
        folder = tmp_path / day
        folder.mkdir()
        x = rng.normal(0, 0.01, len(t)) + 0.01 * np.sin(2 * np.pi * marker * t)  # the day's own tonal line
        call = (t >= c0) & (t < c1)
        x[call] += 0.5 * np.sin(2 * np.pi * 700 * t[call])  # its annotated call, never to be mixed into
        sf.write(folder / f"{day}.wav", x.astype(np.float32), rate, subtype="FLOAT")
        (folder / "truth.csv").write_text(f"filename,start,end,label\n{day}.wav,{c0},{c1},up\n")
    sf.write(tmp_path / "sea.wav", rng.normal(0, 0.01, rate * 30).astype(np.float32), rate, subtype="FLOAT")
    synthetic = {
        "recordings": 4,
        "duration_s": 10,
        "calls": {"upcall": 1},
        "snr_db": [0, 5],
        "background": "sea.wav",
        "annotated_background": 0.5,
        "quiet_margin_s": 2.0,
    }
    data = {
        "annotations": "day1/truth.csv",
        "labels": {"up": "upcall"},
        "more": [{"annotations": "day2/truth.csv", "audio_dir": "day2"}, {"synthetic": synthetic}],
    }
    split = {"val": 0, "test": 0}

    def backgrounds(run: str, **changes) -> list[tuple[bool, bool, bool]]:
        config = load_config(write(tmp_path, data=data, split={**split, **changes}))
        recordings = config_recordings(config, tmp_path / run)
        out = []
        for i in range(4):
            x, _ = sf.read(next(p for p in recordings if p.endswith(f"synthetic_{i:03d}.wav")))
            out.append((_tone_db(x, 300) > 20, _tone_db(x, 500) > 20, _tone_db(x, 700) > 20))
        return out

    assert backgrounds("run") == [(True, False, False), (False, True, False)] + [(False, False, False)] * 2
    # the stretches drawn on: 0-18 s and 23-60 s of day1 (its call at 20-21 s, 2 s margins)
    stretches = quiet_stretches(
        tmp_path / "day1" / "day1.wav",
        [Annotation("day1.wav", 20.0, 21.0, 0, 1000, "upcall")],
        SyntheticSettings(**{k: v for k, v in synthetic.items() if k != "background"}),
        rng,
    )
    assert [len(s) / rate for s in stretches] == [18.0, 37.0]
    # day2 held out (leave one day out): its noise is never trained on
    assert backgrounds("held", holdout=["day2.wav"]) == [(True, False, False)] * 2 + [(False, False, False)] * 2
    with pytest.raises(TrainConfigError, match="no annotated recording outside the held-out ones"):
        backgrounds("none", holdout=["day1.wav", "day2.wav"])
    with pytest.raises(TrainConfigError, match="annotated_background needs split val: 0 and test: 0"):
        load_config(write(tmp_path, data=data, split={"val": 0.2, "test": 0}))
    with pytest.raises(TrainConfigError, match="annotated_background needs annotated recordings"):
        load_config(write(tmp_path, data={"synthetic": synthetic}, split=split))
    with pytest.raises(TrainConfigError, match="annotated_background=1.5 must be <= 1"):
        load_config(write(tmp_path, data={**data, "more": [{"synthetic": {**synthetic, "annotated_background": 1.5}}]}))


def test_recorded_calls_are_the_training_days_own_never_a_held_out_ones(tmp_path, rng):
    """recorded_calls: that share of the synthetic calls are the annotated recordings' own calls,
    lifted out of their noise and mixed into the listed background where the synthetic
    annotations say; a held-out recording's calls are never drawn on."""
    from training.sources import config_recordings
    from training.synth import band_power

    rate, t = 2000, np.arange(60 * 2000) / 2000
    for day, (f0, f1) in (("day1", (100.0, 200.0)), ("day2", (600.0, 800.0))):
        folder = tmp_path / day
        folder.mkdir()
        x = rng.normal(0, 0.01, len(t))
        tt = np.arange(rate) / rate
        sweep = 0.3 * np.sin(2 * np.pi * (f0 * tt + (f1 - f0) * tt**2 / 2)) * np.hanning(rate)
        rows = ["filename,start,end,freq_min,freq_max,label"]
        for c0 in (15.0, 35.0):
            x[int(c0 * rate) : int(c0 * rate) + rate] += sweep
            rows.append(f"{day}.wav,{c0},{c0 + 1},{f0 - 20},{f1 + 20},up")
        sf.write(folder / f"{day}.wav", x.astype(np.float32), rate, subtype="FLOAT")
        (folder / "truth.csv").write_text("\n".join(rows) + "\n")
    sf.write(tmp_path / "sea.wav", rng.normal(0, 0.01, rate * 30).astype(np.float32), rate, subtype="FLOAT")
    synthetic = {
        "recordings": 3,
        "duration_s": 10,
        "calls": {"upcall": 3},
        "snr_db": [20, 20],
        "background": "sea.wav",
        "recorded_calls": 1.0,
    }
    data = {
        "annotations": "day1/truth.csv",
        "labels": {"up": "upcall"},
        "more": [{"annotations": "day2/truth.csv", "audio_dir": "day2"}, {"synthetic": synthetic}],
    }
    split = {"val": 0, "test": 0}

    def days_drawn(run: str, **changes) -> list[str]:
        config = load_config(write(tmp_path, data=data, split={**split, **changes}))
        out = []
        for path, anns in config_recordings(config, tmp_path / run).items():
            if "synthetic_" not in Path(path).name:
                continue
            x, _ = sf.read(path)
            for a in anns:
                seg = x[int(a.start_s * rate) : int(a.end_s * rate)]
                low_day = band_power(seg, rate, 80, 220) > 10 * band_power(seg, rate, 580, 820)
                high_day = band_power(seg, rate, 580, 820) > 10 * band_power(seg, rate, 80, 220)
                assert low_day != high_day and a.label == "upcall"  # one lifted call, where labelled
                out.append("day1" if low_day else "day2")
        return out

    both = days_drawn("run")
    assert len(both) == 9 and set(both) == {"day1", "day2"}
    assert days_drawn("held", holdout=["day2.wav"]) == ["day1"] * 9  # leave one day out
    with pytest.raises(TrainConfigError, match="recorded_calls: no annotated recording outside the held-out ones"):
        days_drawn("none", holdout=["day1.wav", "day2.wav"])
    song = {**data, "more": [data["more"][0], {"synthetic": {**synthetic, "calls": {"song": 1}}}]}
    with pytest.raises(TrainConfigError, match="unknown call type 'song'"):
        config_recordings(load_config(write(tmp_path, data=song, split=split)), tmp_path / "song")
    with pytest.raises(TrainConfigError, match="recorded_calls needs split val: 0 and test: 0"):
        load_config(write(tmp_path, data=data, split={"val": 0.2, "test": 0}))
    with pytest.raises(TrainConfigError, match="recorded_calls=2.0 must be <= 1"):
        load_config(
            write(
                tmp_path, data={**data, "more": [data["more"][0], {"synthetic": {**synthetic, "recorded_calls": 2.0}}]}
            )
        )


def test_shipped_model_note_says_whose_windows_its_figure_is_on():
    """A group_folds run with no validation part (split: {val: 0}) trains its shipped model on
    every recording; its window figure is then on its own training windows, not held-out ones."""
    metrics = {"windows": {"balanced_accuracy": 0.9712}, "split": "val"}
    every = shipped_model_note({"train": ["a", "b"], "val": ["a", "b"], "test": []}, metrics, "the last kept")
    assert every == "trained on every recording, the last kept; its own training-set windows: balanced accuracy 0.971"
    part = shipped_model_note({"train": ["a"], "val": ["b"], "test": []}, metrics, "the last kept")
    assert part.startswith("trained on the groups of its train split") and part.endswith("0.971 on its val part")
