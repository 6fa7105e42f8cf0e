"""`python -m server.cli`: the `promo` command."""

import sys

from server.cli.main import main

sys.exit(main())
