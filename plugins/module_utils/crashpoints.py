# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Named points where the crash-consistency tests kill a run with SIGKILL.

`ODOO_SAAS_CRASH_AT=<point>` in the environment of a run makes it kill itself, uncleanly,
when it reaches that point; unset (always, outside those tests) this does nothing.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "ODOO_SAAS_CRASH_AT"


def reached(point):
    if os.environ.get(VARIABLE) == point:
        os.kill(os.getpid(), signal.SIGKILL)
