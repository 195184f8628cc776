"""Fast tier: the one way a started program is waited for (core.execute.popen, wait_checked,
kill) and the one file lock (core.files.file_lock). Real processes and files, no service."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from odoo_saas_tools.core import execute
from odoo_saas_tools.core.errors import CommandError
from odoo_saas_tools.core.files import file_lock

# 1 MiB on stderr (far more than a pipe holds) before the first byte on stdout, then a failure.
CHATTY = (
    "import sys; sys.stderr.write('noise\\n' * 200000); sys.stderr.write('the real error\\n');"
    "sys.stderr.flush(); sys.stdout.write('out\\n'); sys.exit(3)"
)


def test_a_chatty_program_never_blocks_its_reader_and_its_error_line_is_kept():
    proc = execute.popen([sys.executable, "-c", CHATTY], stdout=execute.PIPE)
    assert proc.stdout is not None
    done = threading.Event()
    # with stderr on a pipe, the program would block on it and this read would never end
    threading.Timer(10, lambda: done.is_set() or proc.kill()).start()
    assert proc.stdout.read() == b"out\n"
    done.set()
    proc.stdout.close()
    with pytest.raises(CommandError, match=r"exited 3: the real error$"):
        execute.wait_checked(proc)
    assert proc.error_file is not None and proc.error_file.closed


def test_error_lines_pick_what_went_wrong_and_secrets_are_blanked():
    script = "import sys; sys.stderr.write('ERROR: bad pw hunter2\\nLINE 1: x\\n'); sys.exit(1)"
    proc = execute.popen([sys.executable, "-c", script])
    with pytest.raises(CommandError) as err:
        execute.wait_checked(
            proc,
            ["hunter2"],
            error_lines=lambda s: next(ln for ln in s.splitlines() if b"ERROR" in ln),
        )
    assert str(err.value).endswith(f"ERROR: bad pw {execute.REDACTED}")


def test_kill_stops_and_reaps_and_wait_for_says_when_it_still_runs():
    proc = execute.popen([sys.executable, "-c", "import time; time.sleep(30)"])
    assert proc.wait_for(0.01) is None
    execute.kill(proc)
    assert proc.returncode is not None and proc.error_file is not None
    assert proc.error_file.closed
    with pytest.raises(CommandError, match="command not found"):
        execute.popen(["/nonexistent/odoo-saas-test-program"])


def test_stderr_merged_into_stdout_or_left_to_ours(capfd):
    script = "import sys; print('out', flush=True); sys.stderr.write('err\\n')"
    merged = execute.popen([sys.executable, "-c", script], stdout=execute.PIPE, stderr="stdout")
    assert merged.stdout is not None
    assert merged.stdout.read() == b"out\nerr\n"
    merged.stdout.close()
    execute.wait_checked(merged)
    inherited = execute.popen([sys.executable, "-c", script], stderr="inherit")
    assert inherited.wait_for(10) == 0 and inherited.error_file is None
    assert capfd.readouterr().err == "err\n"


def test_file_lock_excludes_shares_and_refuses_a_link(tmp_path: Path):
    path = tmp_path / "x.lock"
    with file_lock(path) as fh:
        assert os.stat(path).st_mode & 0o777 == 0o600
        fh.write(b"123\n")  # a holder may note its pid
        with pytest.raises(BlockingIOError), file_lock(path, blocking=False):
            pass
        with pytest.raises(BlockingIOError), file_lock(path, blocking=False, shared=True):
            pass
    with (
        file_lock(path, shared=True),
        file_lock(path, blocking=False, shared=True),
        pytest.raises(BlockingIOError),
        file_lock(path, blocking=False),
    ):
        pass
    with file_lock(path, blocking=False) as fh:  # released when each block ended
        assert fh.read() == b"123\n"
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (tmp_path / "link.lock").symlink_to(target)
    with pytest.raises(OSError), file_lock(tmp_path / "link.lock"):
        pass
    assert target.read_text() == "keep"


def test_a_waiting_lock_is_taken_once_the_holder_lets_go(tmp_path: Path):
    path = tmp_path / "x.lock"
    taken = threading.Event()

    def wait_then_take() -> None:
        with file_lock(path):
            taken.set()

    with file_lock(path):
        waiter = threading.Thread(target=wait_then_take)
        waiter.start()
        assert not taken.wait(0.05)  # held: the blocking lock waits
    waiter.join(5)
    assert taken.is_set()
