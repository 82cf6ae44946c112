"""The one small-file reader: regular files only, never blocks, never reads past its cap, JSON depth and
numbers checked, a schema, CSV field caps, NPZ sizes checked before numpy allocates; one error naming the file."""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest

from core.io.small_files import (
    CAPS,
    ListOf,
    MapOf,
    Obj,
    OneOf,
    SmallFileError,
    read_bytes,
    read_csv,
    read_json,
    read_json_lines,
)
from core.io.small_npz import read_npz
from tests.core.hostile_files import fifo, sparse_file

pytestmark = pytest.mark.timeout(60)


def refused(call, kind: str, path) -> SmallFileError:
    with pytest.raises(SmallFileError) as info:
        call()
    assert info.value.kind == kind, info.value
    assert str(path) in str(info.value)
    return info.value


def test_a_fifo_is_refused_without_blocking(tmp_path):
    path = fifo(tmp_path / "config.json")
    refused(lambda: read_json(path, max_bytes=CAPS["settings"]), "not_regular", path)


def test_a_link_to_dev_zero_is_refused_before_reading(tmp_path):
    path = tmp_path / "corrections.json"
    os.symlink("/dev/zero", path)
    refused(lambda: read_bytes(path, max_bytes=1000), "not_regular", path)


def test_a_link_is_refused_where_the_name_must_not_be_one(tmp_path):
    (tmp_path / "real.json").write_text("{}")
    path = tmp_path / "link.json"
    os.symlink("real.json", path)
    assert read_json(path, max_bytes=100) == {}  # followed where links are allowed
    refused(lambda: read_json(path, max_bytes=100, no_link=True), "link", path)


def test_a_sparse_file_above_the_cap_is_not_read(tmp_path):
    path = sparse_file(tmp_path / "big.json", 2 * 2**30)
    refused(lambda: read_json(path, max_bytes=CAPS["corrections"]), "too_big", path)


def test_missing_file_and_folder_and_dangling_link(tmp_path):
    refused(lambda: read_bytes(tmp_path / "none.json", max_bytes=10), "missing", tmp_path / "none.json")
    (tmp_path / "dir.json").mkdir()
    refused(lambda: read_bytes(tmp_path / "dir.json", max_bytes=10), "folder", tmp_path / "dir.json")
    os.symlink("gone", tmp_path / "dangling.json")
    refused(lambda: read_bytes(tmp_path / "dangling.json", max_bytes=10), "link", tmp_path / "dangling.json")


@pytest.mark.parametrize("text, kind", [
    ("[" * 100 + "]" * 100, "too_deep"),
    ('{"a":' * 5000 + "1" + "}" * 5000, "too_deep"),
    ("[" * 200_000, "too_deep"),  # unclosed: the parser's recursion, caught
    ("1" * 400, "number"),
    ("123" + "0" * 5000, "number"),
    ('{"lr": 1e999}', "number"),
    ('{"lr": NaN}', "number"),
    ("\xff\xfe", "not_text"),
    ("{'a': 1}", "not_json"),
])
def test_hostile_json_is_one_named_error(tmp_path, text, kind):
    path = tmp_path / "x.json"
    path.write_bytes(text.encode("latin-1"))
    refused(lambda: read_json(path, max_bytes=CAPS["settings"]), kind, path)


def test_depth_inside_strings_does_not_count(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"note": "[" * 500}))
    assert read_json(path, max_bytes=10_000) == {"note": "[" * 500}


def test_non_finite_numbers_may_read_as_null(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": NaN, "b": 1e999, "c": 2}')
    assert read_json(path, max_bytes=100, nonfinite="null") == {"a": None, "b": None, "c": 2}


SCHEMA = Obj(required={"format": OneOf(("demo",)), "entries": MapOf(Obj(required={"action": str},
                                                                         optional={"time": float}))},
             optional={"tags": ListOf(str, max_len=3)})


@pytest.mark.parametrize("value, where", [
    ([], "the top level"),
    ({"format": "other", "entries": {}}, "format"),
    ({"format": "demo"}, "'entries'"),
    ({"format": "demo", "entries": {"a.png": {"action": 3}}}, 'entries["a.png"].action'),
    ({"format": "demo", "entries": {"a.png": {"action": "x", "time": "now"}}}, 'entries["a.png"].time'),
    ({"format": "demo", "entries": {"a.png": {"action": "x", "time": True}}}, 'entries["a.png"].time'),
    ({"format": "demo", "entries": {}, "tags": ["a", "b", "c", "d"]}, "tags"),
])
def test_the_schema_names_the_place_that_does_not_fit(tmp_path, value, where):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(value))
    error = refused(lambda: read_json(path, max_bytes=10_000, schema=SCHEMA), "schema", path)
    assert where in error.reason


def test_the_schema_accepts_what_fits(tmp_path):
    path = tmp_path / "x.json"
    value = {"format": "demo", "entries": {"a.png": {"action": "x", "time": 1}}, "extra": [1]}
    path.write_text(json.dumps(value))
    assert read_json(path, max_bytes=10_000, schema=SCHEMA) == value


def test_json_lines_keep_good_lines_and_name_bad_ones(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n' + b"[" * 50 + b"]" * 50 + b'\n\n{"a": "x"}\nnot json\n{"a": 2}\n')
    lines = read_json_lines(path, max_bytes=10_000, schema=Obj(required={"a": int}))
    assert lines.values == [{"a": 1}, {"a": 2}]
    assert [n for n, _ in lines.bad] == [2, 4, 5]


def test_csv_caps_fields_and_names_the_line(tmp_path):
    path = tmp_path / "per_image.csv"
    path.write_text("file,label\na.png,1\n" + "b.png," + "x" * 200_000 + "\n")
    error = refused(lambda: read_csv(path, required=("file",)), "csv", path)
    assert "line 3" in error.reason
    path.write_text("file,label\na.png,1\n")
    assert read_csv(path, required=("file",)) == [{"file": "a.png", "label": "1"}]
    refused(lambda: read_csv(path, required=("path",)), "csv", path)
    path.write_bytes(b"file,label\na\0.png,1\n")
    refused(lambda: read_csv(path), "csv", path)


def _zip_with(member: str, payload: bytes, *, declared: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, payload)
    data = buffer.getvalue()
    if declared is not None:  # lie about the uncompressed size in both headers
        data = data.replace(len(payload).to_bytes(4, "little"), declared.to_bytes(4, "little"))
    return data


def test_npz_zip_bomb_is_refused_before_inflating(tmp_path):
    path = tmp_path / "topk.npz"
    path.write_bytes(_zip_with("a.npy", b"\0" * (64 << 20)))  # 64 MiB of zeros in about 64 KB
    assert path.stat().st_size < 1 << 20
    refused(lambda: read_npz(path, max_member_bytes=16 << 20), "npz", path)


def test_npz_header_larger_than_its_member_is_refused(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**6, 10**6)})
    path = tmp_path / "topk.npz"
    path.write_bytes(_zip_with("a.npy", header.getvalue() + b"\0" * 64))
    error = refused(lambda: read_npz(path), "npz", path)
    assert "declares" in error.reason


def test_npz_object_arrays_are_refused_and_plain_ones_read(tmp_path):
    path = tmp_path / "topk.npz"
    np.savez(path, a=np.array([1, {"x": 2}], dtype=object))
    refused(lambda: read_npz(path), "npz", path)
    np.savez_compressed(path, a=np.arange(6).reshape(2, 3), b=np.asfortranarray(np.ones((2, 3), np.float32)))
    arrays = read_npz(path)
    assert arrays["a"].tolist() == [[0, 1, 2], [3, 4, 5]] and arrays["b"].dtype == np.float32


def test_truncated_npz_is_a_named_error(tmp_path):
    path = tmp_path / "topk.npz"
    np.savez(path, a=np.arange(100))
    path.write_bytes(path.read_bytes()[:60])
    refused(lambda: read_npz(path), "npz", path)
