"""man/alknet.1: groff formats it without a warning, and it documents every option that
`alknet --help` lists (plus the ones the configuration-file work adds)."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ALKNET, ROOT

MAN = os.path.join(ROOT, "man", "alknet.1")
# Documented ahead of their implementation (issue 14); --help may not list them yet.
PLANNED = ["--config", "--check", "--client-alive-interval", "--client-alive-count-max",
           "--channel-idle-timeout", "--window-size", "--unauth-timeout",
           "--per-source-penalty", "--per-source-penalty-exempt", "--per-source-prefix"]
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION FILE",
            "SESSION CHANNEL", "SIGNALS", "LOGGING", "EXIT STATUS", "FILES", "EXAMPLES",
            "SEE ALSO"]


def man_source_text():
    # roff source with \- as a plain dash, so options read as on the command line.
    return open(MAN).read().replace("\\-", "-")


def documented_options():
    """The options the man page documents: the tag line of each .TP item in OPTIONS."""
    src = man_source_text()
    opts = src[src.index(".SH OPTIONS"):src.index(".SH CONFIGURATION FILE")]
    return set(re.findall(r"^\.TP\n\.BI? (--[a-z0-9-]+)", opts, re.M))


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff missing (groff-base)")
def test_groff_formats_without_warnings():
    r = subprocess.run(["groff", "-man", "-ww", "-z", MAN], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr


@pytest.mark.skipif(shutil.which("man") is None, reason="man missing (man-db)")
def test_man_renders_without_warnings_at_80_columns():
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    r = subprocess.run(["man", "--warnings", "-l", MAN], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "alknet - an SSH server that only forwards TCP" in r.stdout


def test_every_help_option_is_documented():
    r = subprocess.run([ALKNET, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    help_opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", r.stdout))
    assert "--key" in help_opts and "--log-level" in help_opts  # the parse worked
    missing = help_opts - documented_options()
    assert not missing, "in --help but not in man/alknet.1: %s" % sorted(missing)


def test_planned_options_and_sections_are_documented():
    assert set(PLANNED) <= documented_options()
    src = open(MAN).read()
    for name in SECTIONS:
        assert re.search(r'^\.SH "?%s"?$' % name, src, re.M), name
