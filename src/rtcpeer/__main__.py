"""``python -m rtcpeer`` runs the command line."""

import sys

from rtcpeer.cli import main

sys.exit(main())
