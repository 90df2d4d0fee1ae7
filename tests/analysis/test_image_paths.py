"""One rule for which image files may be opened (issue 11, items 2 and 3)."""

from __future__ import annotations

import pytest

from analysis.build.image_paths import check_image_root, file_name_problem, image_root_problem, resolve_image_file
from analysis.build.run import check_image_files
from analysis.cli import main
from analysis.errors import PoseAtlasError
from analysis.registry import load_registry


@pytest.mark.parametrize(
    "root",
    [
        "/",
        "/etc",
        "/etc/ssl",
        "/proc/self",
        "/sys",
        "/dev",
        "/usr/share",
        "/bin",
        "/boot",
        "/root",
        "/root/images",
        "/home",
        "/var",
        "/tmp",
    ],
)
def test_system_and_too_wide_roots_are_refused(root):
    assert image_root_problem(root) is not None
    with pytest.raises(PoseAtlasError, match="image folder"):
        check_image_root(root)


def test_ordinary_and_symlinked_roots(tmp_path):
    assert image_root_problem(tmp_path) is None
    sneaky = tmp_path / "looks-fine"
    sneaky.symlink_to("/etc")
    assert "system folder /etc" in image_root_problem(sneaky)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("a.jpg", None),
        ("sub/dir/a.jpg", None),
        ("a..b.jpg", None),
        ("../a.jpg", "'..' in file name"),
        ("sub/../../a.jpg", "'..' in file name"),
        ("/etc/passwd", "absolute file name"),
        ("C:\\x.jpg", "absolute file name"),
        ("..\\a.jpg", "'..' in file name"),
        ("", "empty file name"),
        ("a\0.jpg", "NUL byte in file name"),
    ],
)
def test_file_name_problem(name, problem):
    assert file_name_problem(name) == problem


def test_resolve_image_file_follows_symlinks_only_inside(tmp_path):
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(b"x")
    secret = tmp_path / "secret.txt"
    secret.write_text("no")
    (root / "out.jpg").symlink_to(secret)
    (root / "in.jpg").symlink_to(root / "a.jpg")
    (root / "escape").symlink_to(tmp_path)
    assert resolve_image_file(root, "a.jpg") == (root / "a.jpg").resolve()
    assert resolve_image_file(root, "in.jpg") == (root / "a.jpg").resolve()
    assert resolve_image_file(root, "out.jpg") is None
    assert resolve_image_file(root, "escape/secret.txt") is None
    assert resolve_image_file(root, "../secret.txt") is None
    assert resolve_image_file(root, str(secret)) is None
    # the root itself may be a symlink (a dataset folder linked in)
    link_root = tmp_path / "linked"
    link_root.symlink_to(root)
    assert resolve_image_file(link_root, "a.jpg") == (root / "a.jpg").resolve()


def test_build_image_check_uses_the_same_rule(tmp_path):
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    for name in ("a.jpg", "sub/b.jpg"):
        (root / name).write_bytes(b"x")
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"x")
    (root / "out.jpg").symlink_to(outside)
    (root / "in.jpg").symlink_to(root / "a.jpg")
    names = ["a.jpg", "sub/b.jpg", "in.jpg", "out.jpg", "../outside.jpg", str(outside), "absent.jpg"]
    result = check_image_files(root, names)
    assert result.missing == ["out.jpg", "../outside.jpg", str(outside), "absent.jpg"]
    assert result.n_missing == 4


def test_registry_and_cli_refuse_system_image_folders(tmp_path, capsys):
    registry = tmp_path / "datasets.toml"
    registry.write_text(
        '[[dataset]]\nname = "a"\nsplit = "val"\nannotations = "a.json"\nimages = "/etc"\n', encoding="utf-8"
    )
    with pytest.raises(PoseAtlasError, match=r"dataset\[0\]: images: image folder /etc is inside the system"):
        load_registry(registry)
    ann = tmp_path / "a.json"
    ann.write_text('{"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}')
    code = main(
        [
            "build",
            "--name",
            "a",
            "--split",
            "val",
            "--annotations",
            str(ann),
            "--images",
            "/",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --images: image folder / is /: far too wide")
    assert not (tmp_path / "cache").exists()


def test_dataset_names_in_scenes_are_checked(tmp_path):
    from analysis.scenes.cli import compute_scenes_for_cache
    from analysis.scenes.options import SceneOptions

    with pytest.raises(PoseAtlasError, match=r"invalid dataset name '\.\./x'"):
        compute_scenes_for_cache(tmp_path, "../x", "val", SceneOptions(progress=False))
