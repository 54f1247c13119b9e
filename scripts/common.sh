# Sourced by the scripts in this folder: repository root, PATH for the tools setup installs,
# and a visible step marker.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
