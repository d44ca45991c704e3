"""The accuracy gate: FP32 torch against each INT8 file on held-out data.

Window level: argmax agreement with FP32 on the run's test windows (else validation), per
output, the lowest output counting, on every kernel path the machine can reach
(convert.portability: the lowest path counts, and each path's scores must stay within
``golden_tolerance / golden_margin`` of the file's reference, or the bundle is not portable).  Event level, when the run's held-out recordings are
annotated: ``training.evaluate``'s whole pipeline (ROI detector, the window centred on each
ROI, threshold, matching by time overlap) with each file as the classifier; precision and
recall must stay within ``max_event_delta`` of FP32's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convert.graph import torch_logits
from convert.infer import batched
from convert.run import Run
from convert.types import ConvertOptions
from edge.classify import activate

FILES = ("onnx_int8", "tflite_int8")


@dataclass
class GateResult:
    data: str
    agreement: dict  # file -> lowest argmax agreement over outputs
    events: dict = field(default_factory=dict)  # fp32 / file -> {precision, recall, fp_per_hour}
    note: str = ""  # why there is no event-level comparison
    passed: bool = False
    failures: list = field(default_factory=list)
    portability: object = None  # convert.portability.PortabilityResult

    def table(self, options: ConvertOptions) -> str:
        rows = [
            f"accuracy gate on {self.data}",
            f"{'model':<12} {'agreement':>9} {'precision':>9} {'recall':>7} {'fp/h':>7}",
        ]
        for name in ("fp32", *FILES):
            ev = self.events.get(name)
            ag = "-" if name == "fp32" else f"{self.agreement[name]:.4f}"
            cells = (
                f"{ev['precision']:>9.4f} {ev['recall']:>7.4f} {ev['fp_per_hour']:>7.1f}"
                if ev
                else f"{'-':>9} {'-':>7} {'-':>7}"
            )
            rows.append(f"{name:<12} {ag:>9} {cells}")
        if self.portability is not None:
            rows.append(f"kernel paths (this CPU: {self.portability.cpu}), agreement / max |score - reference|:")
            for f, paths in self.portability.agreement.items():
                for p, ag in paths.items():
                    dev = self.portability.deviation[f].get(p)
                    steps = self.portability.steps.get(f, {}).get(p)
                    told = "(reference)" if dev is None else f"{dev:.4f}"
                    if dev is not None and steps is not None:
                        told += f" ({steps:.2g} output step{'' if steps <= 1.001 else 's'})"
                    rows.append(f"  {f:<12} {p:<28} {ag:.4f}   {told}")
            rows.extend(f"  not checked: {n}" for n in self.portability.notes)
        rows.append(
            f"limits: agreement >= {options.min_agreement}, |event delta| <= {options.max_event_delta}, "
            f"|score - reference| <= {options.golden_tolerance / options.golden_margin:.4g} "
            "or within one output step" + (f"; events: {self.note}" if self.note else "")
        )
        rows.append("PASSED" if self.passed else "FAILED: " + "; ".join(self.failures))
        return "\n".join(rows)

    def as_card(self, options: ConvertOptions) -> dict:
        return {
            "data": self.data,
            "argmax_agreement": {k: round(float(v), 6) for k, v in self.agreement.items()},
            "events": self.events or None,
            "events_note": self.note or None,
            "kernel_paths": self.portability.as_card() if self.portability is not None else None,
            "gate": {
                "min_agreement": options.min_agreement,
                "max_event_delta": options.max_event_delta,
                "max_path_deviation": round(options.golden_tolerance / options.golden_margin, 6),
                "passed": self.passed,
            },
        }


def _probabilities(run: Run, logits_of: Callable[[np.ndarray], dict]) -> Callable[[np.ndarray], object]:
    """A classifier of standardised windows as ``training.evaluate`` takes it: probabilities,
    a dict per head for multi-output."""

    def classify(x: np.ndarray):
        logits = logits_of(x)
        probs = {o.name: activate(logits[o.name], o.activation) for o in run.outputs}
        return probs if run.task == "multi_output" else probs["logits"]

    return classify


def _source(run: Run) -> str:
    """Where the run's training config was, so its relative paths resolve as they did: the
    folder ``out`` was relative to, the shipped recipes' folder, the run folder or the working
    directory, whichever holds the config's deployment."""
    import training

    out = Path(str(run.config.get("out") or ""))
    bases = (
        [run.path.parents[len(out.parts) - 1]] if out.parts and not out.is_absolute() and ".." not in out.parts else []
    )
    bases += [Path(training.__file__).parent / "recipes", run.path, Path.cwd()]
    deployment = Path(str(run.config.get("deployment") or ""))
    base = next((b for b in bases if (b / deployment).is_file()), run.path)
    return str(base / "config.yaml")


def _event_recordings(run: Run):
    """(recordings, deployment, table, threshold) of the run's annotated held-out part, or a
    reason there are none."""
    from edge.calibration import HydrophoneTable
    from edge.config import load_deployment
    from edge.errors import PamedgeError
    from training.config import from_mapping
    from training.sources import config_recordings

    try:
        cfg = from_mapping(run.config, _source(run))
        if cfg.data.clips is not None:
            return "a clip library holds no long recordings to evaluate events on (window figures only)"
        recordings = config_recordings(cfg, run.path)
        dep = load_deployment(cfg.path(cfg.deployment))
        table_path = cfg.path(cfg.hydrophones) or dep.table_path()
        table = HydrophoneTable.load(table_path) if table_path else None
    except (PamedgeError, OSError) as exc:
        return f"no annotated recordings ({exc})"
    for part in ("test", "val"):
        # a split names recordings as training found them; compare resolved paths too
        groups = {g for n in run.split.get(part, []) for g in (n, str(Path(n).resolve()))}
        sites = cfg.data.groups or {}  # file name -> site, when the run split by site
        held = {p: a for p, a in recordings.items() if {p, str(Path(p).resolve()), sites.get(Path(p).name)} & groups}
        if held:
            threshold = cfg.evaluation.threshold if getattr(cfg, "evaluation", None) else None
            return run.part_name(part), held, dep, table, threshold
    return "the held-out split names no annotated recording"


def run_gate(run: Run, converted, onnx_model, tflite_model, options: ConvertOptions) -> GateResult:
    from convert import portability

    part, x = run.held_out()
    fp32 = torch_logits(run.graph, x)
    paths = portability.check(run, converted, onnx_model, tflite_model, x, fp32)
    agreement = {f: min(paths.agreement[f].values()) for f in FILES}
    result = GateResult(f"{part} split: {len(x)} windows", agreement, portability=paths)
    limit = options.golden_tolerance / options.golden_margin
    for f in FILES:
        if agreement[f] < options.min_agreement:
            worst = min(paths.agreement[f], key=paths.agreement[f].get)
            result.failures.append(f"{f} argmax agreement {agreement[f]:.4f} < {options.min_agreement} ({worst})")
        for p, dev in paths.deviation[f].items():
            if dev > limit and not paths.rounding_only(f, p):
                result.failures.append(
                    f"{f} on {p} differs from its reference by {dev:.4f} > {limit:.4g}, more than one output "
                    f"step (not portable{_scheme_hint(f, options)})"
                )
    found = _event_recordings(run)
    if isinstance(found, str):
        result.note = found
    else:
        from training.evaluate import evaluate

        epart, recordings, dep, table, threshold = found
        threshold = options.threshold if threshold is None else threshold
        result.data += f"; events: {epart} split, {len(recordings)} recordings, threshold {threshold}"
        classifiers = {
            "fp32": None,
            "onnx_int8": _probabilities(run, lambda w: batched(onnx_model, w)),
            "tflite_int8": _probabilities(run, lambda w: batched(tflite_model, w)),
        }
        for name, classify in classifiers.items():
            overall = evaluate(
                run.path, recordings, dep, table, threshold=threshold, curve=(), seed=options.seed, classify=classify
            )["events"]["overall"]
            result.events[name] = {k: round(float(overall[k]), 6) for k in ("precision", "recall", "fp_per_hour")}
        result.failures.extend(event_failures(result.events, options.max_event_delta))
    result.passed = not result.failures
    return result


def _scheme_hint(f: str, options: ConvertOptions) -> str:
    if f != "onnx_int8":
        return ""
    from convert.quantise_onnx import SCHEMES

    # u8s8 is the scheme whose pair sums saturate on AVX2: never the way out
    others = [k for k in SCHEMES if k not in (options.onnx_scheme, "u8s8")]
    return f": try --onnx-scheme {' or '.join(others)}"


def event_failures(events: dict, max_event_delta: float) -> list[str]:
    """Each INT8 file's event precision and recall against FP32's (``events``: name ->
    {precision, recall, ...}, as in the card's ``metrics.events``), one line per limit broken."""
    failures = []
    for f in FILES:
        for k in ("precision", "recall"):
            a, b = events[f][k], events["fp32"][k]
            delta = 0.0 if np.isnan(a) and np.isnan(b) else abs(a - b)  # both undefined: no detections
            if not delta <= max_event_delta:  # one undefined fails
                failures.append(f"{f} event {k} differs from FP32 by {delta:.4g} > {max_event_delta}")
    return failures
