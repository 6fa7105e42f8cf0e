"""`promo serve RULES` for the conformance suite's gRPC route, with a faster reload poll:
`python serve.py RULES [--reload-interval 0.05]`. It runs `server.app.serve`, exactly what
`promo serve` runs for one worker, on 127.0.0.1 and a free port (logged as `listening`), with the
watcher polling every 50 ms instead of 0.5 s, because the route rewrites the served directory once
per ruleset (the command has no option for the interval).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server.service.app import Settings, serve  # noqa: E402

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("rules")
    parser.add_argument("--reload-interval", type=float, default=0.05)
    args = parser.parse_args()
    sys.exit(serve(args.rules, Settings(host="127.0.0.1", port=0, threads=4, reload_interval=args.reload_interval)))
