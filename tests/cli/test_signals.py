import os
import signal
import sys

import pytest

from napari_divnoising.cli._signals import Terminated, stopping_like_ctrl_c

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_sigterm_within_a_command_is_a_keyboard_interrupt_with_the_shell_status():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as stop, stopping_like_ctrl_c():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0.5)  # let the handler run
    assert isinstance(stop.value, Terminated)
    assert stop.value.signal_name == "SIGTERM"
    assert stop.value.exit_status == 143
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_hangup_the_caller_ignores_stays_ignored_as_under_nohup():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stopping_like_ctrl_c():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_second_signal_while_saving_does_not_interrupt_the_save(capsys):
    saved = False
    with pytest.raises(Terminated), stopping_like_ctrl_c():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.5)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # e.g. Kubernetes' grace period repeats it
            signal.sigtimedwait([], 0.5)
            saved = True
    assert saved
    assert "still saving" in capsys.readouterr().err
