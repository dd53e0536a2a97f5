#!/usr/bin/env bash
# Until the first release there is one migration, regenerated from the models after a model change.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f src/duplex/db/migrations/versions/0001_initial.py
.venv/bin/python - "$tmp" <<'PY'
import sys
from alembic import command
from duplex.db.migrate import alembic_config
cfg = alembic_config(f"sqlite:///{sys.argv[1]}/gen.db")
command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
PY
mv src/duplex/db/migrations/versions/0001_initial_schema.py src/duplex/db/migrations/versions/0001_initial.py
.venv/bin/ruff format -q src/duplex/db/migrations/versions/0001_initial.py
.venv/bin/ruff check -q --fix src/duplex/db/migrations/versions/0001_initial.py || true
rm -rf "$tmp"
echo "regenerated src/duplex/db/migrations/versions/0001_initial.py"
