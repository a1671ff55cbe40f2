"""``python -m losskit``: the command line.

``python -m`` puts the working directory first on ``sys.path``; it is moved to the end here, so
a file in the working directory (a ``rich.py``, a ``pandas.py``) cannot replace a library that
losskit imports later. ``losskit audit MODULE:FUNCTION`` still finds modules there.
"""

import os
import sys

if sys.path and sys.path[0] in ("", os.getcwd()):
    sys.path.append(sys.path.pop(0))

from losskit.cli import main  # after the path fix above

raise SystemExit(main())
