"""Data directories of a killed harness are removed at the next start."""

import os
import subprocess
import tempfile

from stack.postgres import _remove_orphaned_data_roots


def test_only_directories_of_dead_harnesses_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    finished = subprocess.Popen(["true"])
    finished.wait()  # reaped: its pid names no process now
    dead_pid = finished.pid
    orphan = tmp_path / "meltproof-pgdata-orphan"
    alive = tmp_path / "meltproof-pgdata-alive"
    starting = tmp_path / "meltproof-pgdata-starting"  # no owner file yet
    for root in (orphan, alive, starting):
        (root / "data").mkdir(parents=True)
    (orphan / "harness.pid").write_text(str(dead_pid))
    (alive / "harness.pid").write_text(str(os.getpid()))
    _remove_orphaned_data_roots()
    assert not orphan.exists()
    assert alive.exists()
    assert starting.exists()
