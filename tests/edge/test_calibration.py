"""edge.calibration: hydrophones.yaml, the sign convention, and resolving a serial."""

from __future__ import annotations

import numpy as np
import pytest

from edge.calibration import Calibration, CalibrationSettings, HydrophoneTable, resolve, to_full_scale_spl
from edge.errors import CalibrationError, ConfigError
from tests.support.data import HYDROPHONES


def table(tmp_path, text: str) -> HydrophoneTable:
    path = tmp_path / "hydrophones.yaml"
    path.write_text(text)
    return HydrophoneTable.load(path)


def test_shipped_table_gives_6872_full_scale_spl():
    loaded = HydrophoneTable.load(HYDROPHONES)
    cal = loaded.entries["6872"]
    assert cal.full_scale_spl_db == 177.6
    assert cal.hydrophone == "6872"
    assert cal.gain_db == 0.0 and cal.response == ()
    assert cal.source == str(HYDROPHONES)


def test_sensitivity_values_are_negated(tmp_path):
    loaded = table(tmp_path, "convention: sensitivity\nhydrophones:\n  '1': -176.2\n  2: -170\n")
    assert loaded.entries["1"].full_scale_spl_db == 176.2
    assert loaded.entries["2"].full_scale_spl_db == 170.0  # an unquoted serial is still a string key


def test_positive_value_under_sensitivity_is_rejected_naming_file_and_serial(tmp_path):
    with pytest.raises(CalibrationError, match=r"hydrophones\.yaml: hydrophones\.6872: 177\.6 is positive") as info:
        table(tmp_path, "convention: sensitivity\nhydrophones:\n  '6872': 177.6\n")
    assert str(tmp_path) in str(info.value)
    assert "convention: full_scale_spl" in str(info.value)  # says how to fix it


def test_full_scale_spl_convention_accepts_positive_and_rejects_negative(tmp_path):
    loaded = table(tmp_path, "convention: full_scale_spl\nhydrophones:\n  '6872': 176.2\n")
    assert loaded.entries["6872"].full_scale_spl_db == 176.2
    with pytest.raises(CalibrationError, match=r"hydrophones\.6872: -176\.2 is negative"):
        table(tmp_path, "convention: full_scale_spl\nhydrophones:\n  '6872': -176.2\n")


def test_entry_may_override_the_file_convention(tmp_path):
    loaded = table(
        tmp_path,
        "convention: sensitivity\nhydrophones:\n"
        "  '1': -177.6\n"
        "  '2': {end_to_end_db: 176.2, convention: full_scale_spl, gain_db: 12}\n",
    )
    assert loaded.entries["1"].full_scale_spl_db == 177.6
    assert loaded.entries["2"].full_scale_spl_db == 176.2
    assert loaded.entries["2"].gain_db == 12.0
    with pytest.raises(CalibrationError, match=r"hydrophones\.2: -176\.2 is negative"):
        table(
            tmp_path,
            "convention: sensitivity\nhydrophones:\n  '2': {end_to_end_db: -176.2, convention: full_scale_spl}\n",
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("convention: sensitivity\nhydrophones: {}\nunits: dB\n", r"unknown key 'units'"),
        (
            "convention: sensitivity\nhydrophones:\n  '1': {end_to_end_db: -170, gian_db: 3}\n",
            r"hydrophones\.1: unknown key 'gian_db'",
        ),
        ("hydrophones:\n  '1': -170\n", r"'convention' must be one of sensitivity, full_scale_spl \(got None\)"),
        ("convention: negative\nhydrophones: {}\n", r"'convention' must be one of .*got 'negative'"),
        ("convention: sensitivity\nhydrophones:\n  '1': {gain_db: 3}\n", r"hydrophones\.1: missing end_to_end_db"),
        ("convention: sensitivity\nhydrophones:\n  '1': -17.6\n", r"outside the plausible range 80\.\.260"),
        ("convention: sensitivity\nhydrophones:\n  '1': minus 170\n", r"'minus 170' is not a number"),
        (
            "convention: sensitivity\nhydrophones:\n  '1': {end_to_end_db: -170, gain_db: high}\n",
            r"gain_db='high' is not a number",
        ),
        (
            "convention: sensitivity\nhydrophones:\n  '1': {end_to_end_db: -170, response: [[100, 1], [50, 2]]}\n",
            r"response frequencies must increase",
        ),
        (
            "convention: sensitivity\nhydrophones:\n  '1': {end_to_end_db: -170, response: [1, 2]}\n",
            r"response must be a list of \[frequency_hz, dB\] pairs",
        ),
        (
            "convention: sensitivity\nhydrophones:\n  '1': {end_to_end_db: -170, gain_db: .nan}\n",
            r"hydrophones\.1: gain_db=nan is not a number",
        ),
        (
            "convention: sensitivity\nhydrophones:\n  '1': {end_to_end_db: -170, response: [[100, .nan]]}\n",
            r"hydrophones\.1: response holds a value that is not a finite number",
        ),
        (
            "convention: sensitivity\nhydrophones: [-170]\n",
            r"'hydrophones' must be a mapping of serial -> value, got list",
        ),
        ("- just a list\n", r"expected a mapping"),
        ("convention: [unclosed\n", r"not valid YAML"),
    ],
)
def test_bad_tables_are_rejected_with_the_reason(tmp_path, text, message):
    with pytest.raises(CalibrationError, match=message) as info:
        table(tmp_path, text)
    assert str(tmp_path / "hydrophones.yaml") in str(info.value)


def test_missing_table_file(tmp_path):
    with pytest.raises(CalibrationError, match=r"absent\.yaml: cannot read hydrophone table"):
        HydrophoneTable.load(tmp_path / "absent.yaml")


def test_calibration_errors_are_value_errors():
    assert issubclass(CalibrationError, ValueError)


def test_to_full_scale_spl():
    assert to_full_scale_spl(-177.6, "sensitivity", "x") == 177.6
    assert to_full_scale_spl(176.2, "full_scale_spl", "x") == 176.2
    with pytest.raises(CalibrationError, match=r"where: convention='dB' is not one of"):
        to_full_scale_spl(-170, "dB", "where")
    with pytest.raises(CalibrationError, match="is not a number"):
        to_full_scale_spl(float("nan"), "sensitivity", "x")


def test_bin_gain_db_without_response_is_flat():
    cal = Calibration("6872", 177.6, gain_db=12.0)
    np.testing.assert_allclose(cal.bin_gain_db(np.array([0.0, 1000.0, 24000.0])), [165.6, 165.6, 165.6])


def test_bin_gain_db_interpolates_the_response_and_holds_its_ends(tmp_path):
    loaded = table(
        tmp_path,
        "convention: sensitivity\nhydrophones:\n"
        "  '7': {end_to_end_db: -170, gain_db: 6, response: [[100, -2.0], [1000, 0.0], [10000, 4.0]]}\n",
    )
    cal = loaded.entries["7"]
    assert cal.response == ((100.0, -2.0), (1000.0, 0.0), (10000.0, 4.0))
    freqs = np.array([10.0, 100.0, 550.0, 1000.0, 5500.0, 10000.0, 20000.0])
    # 170 - 6 - response(f); the response is linear between points, held beyond them
    expected = 164.0 - np.array([-2.0, -2.0, -1.0, 0.0, 2.0, 4.0, 4.0])
    np.testing.assert_allclose(cal.bin_gain_db(freqs), expected)
    assert cal.bin_gain_db(freqs.reshape(7, 1)).shape == (7, 1)


def test_calibration_hash_is_stable_and_tracks_values():
    a = Calibration("6872", 177.6, source="t.yaml")
    assert a.hash == Calibration("6872", 177.6, source="t.yaml").hash
    assert len(a.hash) == 16
    assert a.hash != Calibration("6872", 177.5, source="t.yaml").hash
    assert a.hash != Calibration("6872", 177.6, gain_db=1.0, source="t.yaml").hash
    assert a.as_dict() == {
        "hydrophone": "6872",
        "full_scale_spl_db": 177.6,
        "gain_db": 0.0,
        "response": [],
        "source": "t.yaml",
    }


def test_resolve_known_serial():
    loaded = HydrophoneTable.load(HYDROPHONES)
    cal, warning = resolve("6872", CalibrationSettings(), loaded)
    assert warning is None
    assert cal == loaded.entries["6872"]


def test_resolve_adds_the_deployment_gain():
    loaded = HydrophoneTable.load(HYDROPHONES)
    cal, warning = resolve("6872", CalibrationSettings(gain_db=6.0), loaded)
    assert warning is None
    assert (cal.full_scale_spl_db, cal.gain_db) == (177.6, 6.0)
    np.testing.assert_allclose(cal.bin_gain_db(np.array([1000.0])), [171.6])


def test_resolve_unknown_serial_uses_the_default_and_warns():
    loaded = HydrophoneTable.load(HYDROPHONES)
    cal, warning = resolve("9999", CalibrationSettings(), loaded)
    assert (cal.hydrophone, cal.full_scale_spl_db, cal.source) == ("default", 170.0, "default")
    assert "9999" in warning and "-170" in warning
    assert str(HYDROPHONES) in warning
    assert "not exact" in warning


def test_resolve_without_serial_or_table():
    cal, warning = resolve(None, CalibrationSettings(default_db=-165.5), None)
    assert cal.full_scale_spl_db == 165.5
    assert warning == (
        "no hydrophone serial in the file name or deployment; using the default -165.5 dB, "
        "received levels are not exact"
    )
    cal, warning = resolve("6872", CalibrationSettings(), None)
    assert cal.hydrophone == "default"
    assert "hydrophone 6872 is not in any hydrophone table" in warning


def test_settings_hydrophone_is_used_when_the_name_has_no_serial():
    loaded = HydrophoneTable.load(HYDROPHONES)
    settings = CalibrationSettings(hydrophone=6872)  # YAML gives an int for an unquoted serial
    assert settings.hydrophone == "6872"
    cal, warning = resolve(None, settings, loaded)
    assert warning is None and cal.full_scale_spl_db == 177.6
    # a serial from the file name wins over the deployment's
    cal, warning = resolve("9999", settings, loaded)
    assert cal.hydrophone == "default" and "9999" in warning


def test_settings_default_sign_is_checked():
    with pytest.raises(ConfigError, match=r"default_db: 170 is positive but the convention is 'sensitivity'"):
        CalibrationSettings(default_db=170)
    assert CalibrationSettings(default_db=170, default_convention="full_scale_spl").default_db == 170
    with pytest.raises(ConfigError, match=r"gain_db='6' is not a number"):
        CalibrationSettings(gain_db="6")
