"""Old versions' compiled kernels are removed; the current one and recent ones stay."""

import os

from reriskmc.compile_cache import MARKER, mark_used_and_prune, prune

DAY = 86400.0


def _folder(root, name, age_days, now, marker=True):
    path = root / name
    path.mkdir()
    (path / "index.nbi").write_bytes(b"x")
    stamp = now - age_days * DAY
    if marker:
        (path / MARKER).touch()
        os.utime(path / MARKER, (stamp, stamp))
    else:
        os.utime(path, (stamp, stamp))
    return path


def test_prune__removes_only_stale_cache_key_folders(tmp_path):
    now = 2_000_000_000.0
    current = _folder(tmp_path, "0123456789abcdef", 400, now)  # old marker, but in use now
    recent = _folder(tmp_path, "aaaaaaaaaaaaaaaa", 3, now)  # another version, used lately
    stale = _folder(tmp_path, "bbbbbbbbbbbbbbbb", 31, now)
    stale_unmarked = _folder(tmp_path, "cccccccccccccccc", 90, now, marker=False)
    not_ours = _folder(tmp_path, "my-notes", 900, now)  # not named like a cache key
    removed = prune(str(tmp_path), current.name, 30 * DAY, now=now)
    assert sorted(removed) == sorted([str(stale), str(stale_unmarked)])
    assert current.exists() and recent.exists() and not_ours.exists()
    assert not stale.exists() and not stale_unmarked.exists()
    assert os.path.getmtime(current / MARKER) == now  # marked as used


def test_prune__creates_the_current_folder_and_its_marker(tmp_path):
    assert prune(str(tmp_path), "0123456789abcdef", 30 * DAY) == []
    assert (tmp_path / "0123456789abcdef" / MARKER).exists()


def test_mark_used_and_prune__leaves_a_user_chosen_cache_alone(tmp_path, monkeypatch):
    import numba

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "mine"))
    assert mark_used_and_prune(max_age_days=0) == []
    assert not (tmp_path / "mine").exists()
