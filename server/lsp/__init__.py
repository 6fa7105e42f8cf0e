"""`promo lsp`: a Language Server for `.promo` files over stdio (pygls).

server.py wires the protocol; workspace.py keeps each ruleset's files parsed (one cache entry per
file content) and re-checks only the file that changed; front.py is the one place that calls the
language front end (engine/lang); positions.py maps spans to LSP ranges and finds the node under
the cursor; diagnostics.py, hover.py, completion.py and definition.py answer one request each.
"""
