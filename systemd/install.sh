#!/usr/bin/env bash
# Installs the built Vigil agent or hub as a systemd service.
#
#   sudo systemd/install.sh agent|hub [--prefix /opt/vigil] [--from DIR] [--destdir DIR] [--dry-run]
#
# Run it from a built checkout (`npm ci` builds dist/ and the web app). It
#   - copies dist/, bin/, package.json, package-lock.json and the production
#     node_modules into the prefix (default /opt/vigil), replacing an earlier
#     install as a whole;
#   - creates the `vigil` system user and group, /var/lib/vigil/<agent|hub>
#     (state) and /etc/vigil (configuration, group vigil may read);
#   - puts the example configuration into /etc/vigil, with its data folder
#     pointed at /var/lib/vigil/<agent|hub> — never over a file that exists;
#   - links /usr/local/bin/vigil, installs the unit and runs
#     `systemctl daemon-reload`; then prints the next steps.
# Running it again updates the program and the unit and keeps the configuration.
#
# --destdir DIR (or DESTDIR=DIR) stages every file under DIR and skips what
# would change the running system (user, ownership, systemctl): for packaging,
# and for the tests. --dry-run prints every step and changes nothing.
# Uninstalling is described in systemd/README.md.
set -euo pipefail

usage() {
  echo "usage: $0 agent|hub [--prefix /opt/vigil] [--from DIR] [--destdir DIR] [--dry-run]" >&2
  exit 2
}

ROLE="${1:-}"
case "$ROLE" in agent | hub) shift ;; -h | --help) usage ;; *) usage ;; esac

PREFIX=/opt/vigil
FROM="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DESTDIR="${DESTDIR:-}"
DRY_RUN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a folder}"; shift 2 ;;
    --from) FROM="${2:?--from needs a folder}"; shift 2 ;;
    --destdir) DESTDIR="${2:?--destdir needs a folder}"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    *) usage ;;
  esac
done
case "$PREFIX" in /*) ;; *) echo "install.sh: --prefix must be an absolute path, got $PREFIX" >&2; exit 2 ;; esac
FROM="$(cd "$FROM" && pwd)"

USER_NAME=vigil
CONFIG_DIR=/etc/vigil
STATE_DIR="/var/lib/vigil/$ROLE"
UNIT="vigil-$ROLE.service"
UNIT_DIR=/etc/systemd/system
BIN_LINK=/usr/local/bin/vigil
# Staged installs (DESTDIR) leave the running system alone.
SYSTEM=1
[ -n "$DESTDIR" ] && SYSTEM=0

say() { printf '%s\n' "$*"; }
# Runs a command, or prints it with --dry-run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    say "would run: $*"
  else
    "$@"
  fi
}
fail() {
  say "install.sh: $*" >&2
  exit 1
}

# ── What must be there before anything is touched ────────────────────────────
[ -f "$FROM/dist/agent/cli/main.js" ] || fail "$FROM/dist is missing or incomplete; build first: (cd $FROM && npm ci)"
[ -f "$FROM/bin/vigil.js" ] || fail "$FROM/bin/vigil.js is missing; is $FROM a Vigil checkout?"
[ -f "$FROM/package-lock.json" ] || fail "$FROM/package-lock.json is missing; the production dependencies are installed from it"
[ -d "$FROM/node_modules" ] || fail "$FROM/node_modules is missing; run npm ci in $FROM first"
if [ "$ROLE" = hub ] && [ ! -f "$FROM/dist/web/index.html" ]; then
  fail "the hub's web app ($FROM/dist/web) is not built; run npm run build in $FROM"
fi
NODE="$(command -v node || true)"
[ -n "$NODE" ] || fail "node is not on PATH; install Node.js 20 or later first"
case "$(readlink -f "$NODE")" in
  /root/* | /home/*) fail "$NODE lives in a home folder, which the service cannot see (ProtectHome=yes); install Node.js system-wide (e.g. Debian's or NodeSource's package)" ;;
esac
NODE_MAJOR="$("$NODE" -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || fail "Node.js 20 or later is needed; $NODE is $("$NODE" --version)"
command -v npm >/dev/null || fail "npm is not on PATH (it comes with Node.js)"
if [ "$SYSTEM" = 1 ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
  fail "run as root (sudo), or stage the files with --destdir DIR"
fi

target="$DESTDIR$PREFIX"
if [ "$DRY_RUN" = 1 ]; then
  say "Dry run: installing the Vigil $ROLE from $FROM into $target would take these steps (nothing is changed):"
else
  say "Installing the Vigil $ROLE from $FROM into $target"
fi

# ── The user ─────────────────────────────────────────────────────────────────
if [ "$SYSTEM" = 1 ]; then
  if getent passwd "$USER_NAME" >/dev/null; then
    say "user $USER_NAME exists"
  else
    run useradd --system --user-group --home-dir /var/lib/vigil --no-create-home --shell /usr/sbin/nologin --comment "Vigil agent and hub" "$USER_NAME"
  fi
else
  say "skipped (staged install): creating the system user $USER_NAME"
fi

# ── The program: staged beside the old one, then swapped in whole ────────────
staging="$target.new.$$"
run mkdir -p "$staging"
run cp -a "$FROM/dist" "$FROM/bin" "$FROM/package.json" "$FROM/package-lock.json" "$staging/"
run mkdir -p "$staging/systemd" "$staging/config"
run cp -a "$FROM/systemd/." "$staging/systemd/"
run cp -a "$FROM/config/." "$staging/config/"
if [ -f "$FROM/README.md" ]; then run cp -a "$FROM/README.md" "$staging/"; fi
# node_modules is copied from the build and pruned to the production
# dependencies: no registry needed on the gateway, and native modules
# (lmdb, onnxruntime-node) come as they were built and tested.
run cp -a "$FROM/node_modules" "$staging/node_modules"
if [ "$DRY_RUN" = 1 ]; then
  say "would run (in $staging): npm prune --omit=dev --no-audit --no-fund"
else
  (cd "$staging" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
fi
run chmod 0755 "$staging/bin/vigil.js"
if [ -d "$target" ]; then
  run mv "$target" "$target.old.$$"
  run mv "$staging" "$target"
  run rm -rf "$target.old.$$"
else
  run mkdir -p "$(dirname "$target")"
  run mv "$staging" "$target"
fi
if [ -e "$DESTDIR$BIN_LINK" ] && [ "$(readlink "$DESTDIR$BIN_LINK" || true)" != "$PREFIX/bin/vigil.js" ]; then
  say "kept $BIN_LINK: it is not ours (run $PREFIX/bin/vigil.js directly)"
else
  run mkdir -p "$DESTDIR$(dirname "$BIN_LINK")"
  run ln -sfn "$PREFIX/bin/vigil.js" "$DESTDIR$BIN_LINK"
fi

# ── Folders ──────────────────────────────────────────────────────────────────
run mkdir -p "$DESTDIR$CONFIG_DIR/secrets" "$DESTDIR$STATE_DIR"
if [ "$SYSTEM" = 1 ]; then
  # Root owns the configuration; the service reads it through its group, and
  # cannot change it. The state folder is the service's own (systemd also
  # creates it through StateDirectory=, but admin commands such as
  # `vigil hub agents add` run before the first start).
  run chown root:"$USER_NAME" "$CONFIG_DIR" "$CONFIG_DIR/secrets"
  run chmod 0750 "$CONFIG_DIR" "$CONFIG_DIR/secrets"
  run chown "$USER_NAME":"$USER_NAME" /var/lib/vigil "$STATE_DIR"
  run chmod 0750 /var/lib/vigil "$STATE_DIR"
fi

# ── Example configuration, never over an existing file ───────────────────────
# install_config SOURCE NAME [sed expression]: copies SOURCE to /etc/vigil/NAME unless it exists.
install_config() {
  local source="$1" name="$2" edit="${3:-}" dest="$DESTDIR$CONFIG_DIR/$2"
  if [ -e "$dest" ]; then
    say "kept $CONFIG_DIR/$name (it exists)"
    return
  fi
  if [ "$DRY_RUN" = 1 ]; then
    say "would write: $CONFIG_DIR/$name (from $source)"
    return
  fi
  if [ -n "$edit" ]; then sed -e "$edit" "$source" >"$dest"; else cp "$source" "$dest"; fi
  if [ "$SYSTEM" = 1 ]; then
    chown root:"$USER_NAME" "$dest"
    chmod 0640 "$dest"
  fi
  say "wrote $CONFIG_DIR/$name"
}
if [ "$ROLE" = agent ]; then
  # The example keeps its state in ./data beside the file: a service keeps it in its state folder.
  install_config "$FROM/config/agent.example.yaml" agent.yaml "s#\./data#$STATE_DIR#g"
  install_config "$FROM/config/tags.example.yaml" tags.example.yaml
  install_config "$FROM/config/tags.example.csv" tags.example.csv
else
  install_config "$FROM/config/hub.example.yaml" hub.yaml "s#dataDir: \./hub-data#dataDir: $STATE_DIR#"
fi
# The JSON Schemas the examples name for editor completion; ours, so always current.
run mkdir -p "$DESTDIR$CONFIG_DIR/schema"
run cp -a "$FROM/config/schema/." "$DESTDIR$CONFIG_DIR/schema/"

# ── The unit ─────────────────────────────────────────────────────────────────
unit_dest="$DESTDIR$UNIT_DIR/$UNIT"
if [ "$DRY_RUN" = 1 ]; then
  say "would write: $UNIT_DIR/$UNIT (node at $NODE, program in $PREFIX)"
else
  mkdir -p "$(dirname "$unit_dest")"
  sed -e "s#/usr/bin/node #$NODE #" -e "s#/opt/vigil#$PREFIX#g" "$FROM/systemd/$UNIT" >"$unit_dest"
  chmod 0644 "$unit_dest"
  say "wrote $UNIT_DIR/$UNIT"
fi
if [ "$SYSTEM" = 1 ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  run systemctl daemon-reload
else
  say "skipped: systemctl daemon-reload ($([ "$SYSTEM" = 0 ] && echo 'staged install' || echo 'systemd is not running here'))"
fi

# ── Next steps ───────────────────────────────────────────────────────────────
config_file="$CONFIG_DIR/$ROLE.yaml"
say ""
say "Next steps:"
if [ "$ROLE" = agent ]; then
  say "  1. Edit $config_file and the tag files it lists (secrets go in $CONFIG_DIR/secrets/, mode 0640, group vigil)."
  say "  2. Check it:                    sudo -u $USER_NAME vigil check $config_file --connect"
else
  say "  1. Edit $config_file (http.tls for HTTPS, web.publicUrl behind a proxy)."
  say "  2. First admin and agents:      sudo -u $USER_NAME vigil hub users add <name> --role admin --config $config_file"
  say "                                  sudo -u $USER_NAME vigil hub agents add <agent-id> --config $config_file"
  say "     The agents' hub.publicKeyFile: sudo -u $USER_NAME vigil hub key --config $config_file > hub-signing.pub"
fi
say "  3. Start it now and at boot:    sudo systemctl enable --now $UNIT"
say "  4. Watch it:                    systemctl status $UNIT; journalctl -u $UNIT -f"
if [ "$ROLE" = agent ]; then
  say "  5. Health and data:             curl -s http://127.0.0.1:8710/healthz; curl -s 'http://127.0.0.1:8710/tags?format=text'"
  say "  Configuration changes apply when the files are saved (or: sudo systemctl reload $UNIT)."
fi
