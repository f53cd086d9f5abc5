#!/usr/bin/env bash
# Installs wg-dynamic system-wide (run as root from a checkout):
#
#   scripts/install.sh                 # into /usr/local, units into /etc/systemd/system
#   scripts/install.sh --uninstall     # removes exactly what it installed
#
# What goes where (with the default prefix):
#   /usr/local/lib/wg-dynamic/          the built programs and their production npm dependencies
#   /usr/local/sbin/wg-dynamic-server   launchers (the units' ExecStart)
#   /usr/local/sbin/wg-dynamic-client
#   /usr/local/share/man/man8/          wg-dynamic-server(8), wg-dynamic-client(8)
#   /etc/systemd/system/                wg-dynamic-server@.service, wg-dynamic-client@.service
#   /usr/local/bin/wg-quick             wg-quick with `Address = fe80::…/128, auto`: ahead of
#                                       /usr/bin/wg-quick in PATH, which it calls for the rest
#   /etc/systemd/system/wg-quick@.service.d/wg-dynamic.conf
#                                       the same for wg-quick@<interface>
#
# Options: --prefix DIR (default /usr/local), --unit-dir DIR (default
# /etc/systemd/system), --no-wg-quick (leave wg-quick alone), --destdir DIR (stage everything under DIR, for
# packaging and for the tests: paths inside the files stay those of the
# prefix), --uninstall. Needs Node.js 20.19 or newer; builds first.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$PWD

prefix=/usr/local
unit_dir=/etc/systemd/system
destdir=
uninstall=false
wg_quick=true
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --unit-dir) unit_dir=$2; shift 2 ;;
    --destdir) destdir=$2; shift 2 ;;
    --uninstall) uninstall=true; shift ;;
    --no-wg-quick) wg_quick=false; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done

lib_dir=$prefix/lib/wg-dynamic
bin_dir=$prefix/bin
sbin_dir=$prefix/sbin
drop_in=$unit_dir/wg-quick@.service.d/wg-dynamic.conf
man_dir=$prefix/share/man/man8
programs=(wg-dynamic-server wg-dynamic-client)

say() { echo "[#] $*" >&2; }

# systemd rereads its units only when they went where it looks for them (not
# into --destdir, nor into another --unit-dir, as the tests do).
reload_systemd() {
  [ -z "$destdir" ] && [ -d /run/systemd/system ] || return 0
  case "$unit_dir" in
    /etc/systemd/system | /usr/local/lib/systemd/system | /usr/lib/systemd/system | /lib/systemd/system) ;;
    *) return 0 ;;
  esac
  say "systemctl daemon-reload"
  systemctl daemon-reload
}

if [ "$uninstall" = true ]; then
  for program in "${programs[@]}"; do
    say "rm -f $destdir$sbin_dir/$program $destdir$man_dir/$program.8 $destdir$unit_dir/$program@.service"
    rm -f "$destdir$sbin_dir/$program" "$destdir$man_dir/$program.8" "$destdir$unit_dir/$program@.service"
  done
  # Only our wrapper: never a wg-quick that another package put there.
  if grep -q "wg-dynamic's \`auto\` address" "$destdir$bin_dir/wg-quick" 2>/dev/null; then
    say "rm -f $destdir$bin_dir/wg-quick"
    rm -f "$destdir$bin_dir/wg-quick"
  fi
  say "rm -f $destdir$drop_in"
  rm -f "$destdir$drop_in"
  rmdir "$destdir$(dirname "$drop_in")" 2>/dev/null || true
  say "rm -rf $destdir$lib_dir"
  rm -rf "$destdir$lib_dir"
  reload_systemd
  exit 0
fi

node=$(command -v node || true)
if [ -z "$node" ] || ! "$node" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "install.sh: Node.js 20.19 or newer is required (found: $("$node" --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "npm run build"
npm run --silent build

# Stage the programs with their production dependencies only; no network needed.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp package.json package-lock.json "$stage/"
for package in packages/*/; do
  name=$(basename "$package")
  mkdir -p "$stage/packages/$name"
  cp "$package/package.json" "$stage/packages/$name/"
  cp -r "$package/dist" "$stage/packages/$name/"
  [ -d "$package/worker" ] && cp -r "$package/worker" "$stage/packages/$name/"
done
find "$stage/packages" \( -name '*.tsbuildinfo' -o -name '*.map' -o -name '*.d.ts' \) -delete
cp -a node_modules "$stage/"
(cd "$stage" && npm prune --omit=dev --no-audit --no-fund --loglevel=error)
find "$stage/node_modules" -mindepth 1 -type d -empty -delete
# The lab is for tests only; the programs never load it.
rm -rf "$stage/packages/lab" "$stage/node_modules/@wg-dynamic/lab"

say "install $lib_dir"
rm -rf "$destdir$lib_dir"
mkdir -p "$destdir$lib_dir" "$destdir$sbin_dir" "$destdir$man_dir" "$destdir$unit_dir"
cp -a "$stage/." "$destdir$lib_dir/"
chmod -R go-w "$destdir$lib_dir"

for program in "${programs[@]}"; do
  role=${program#wg-dynamic-}
  say "install $sbin_dir/$program"
  cat > "$destdir$sbin_dir/$program" <<EOF
#!/bin/sh
exec "$node" "$lib_dir/packages/$role/dist/bin/$program.js" "\$@"
EOF
  chmod 0755 "$destdir$sbin_dir/$program"
  if [ -f "man/$program.8" ]; then
    say "install $man_dir/$program.8"
    install -m 0644 "man/$program.8" "$destdir$man_dir/$program.8"
  fi
  say "install $unit_dir/$program@.service"
  sed "s|/usr/local/sbin/|$sbin_dir/|g" "systemd/$program@.service" > "$destdir$unit_dir/$program@.service"
  chmod 0644 "$destdir$unit_dir/$program@.service"
done

if [ "$wg_quick" = true ]; then
  if [ -e "$destdir$bin_dir/wg-quick" ] && ! grep -q "wg-dynamic's \`auto\` address" "$destdir$bin_dir/wg-quick"; then
    echo "install.sh: $bin_dir/wg-quick exists and is not ours; leaving it (use --no-wg-quick to silence)" >&2
  else
    say "install $bin_dir/wg-quick"
    mkdir -p "$destdir$bin_dir"
    sed "s|^CLIENT=\${WG_DYNAMIC_CLIENT:-wg-dynamic-client}|CLIENT=\${WG_DYNAMIC_CLIENT:-$sbin_dir/wg-dynamic-client}|" \
      wg-quick/wg-quick > "$destdir$bin_dir/wg-quick"
    chmod 0755 "$destdir$bin_dir/wg-quick"
    say "install $drop_in"
    mkdir -p "$destdir$(dirname "$drop_in")"
    sed "s|/usr/local/bin/wg-quick|$bin_dir/wg-quick|g" "wg-quick/wg-quick@.service.d/wg-dynamic.conf" \
      > "$destdir$drop_in"
    chmod 0644 "$destdir$drop_in"
  fi
fi

reload_systemd
cat >&2 <<EOF

Installed. Start the server for wg0 with:
  systemctl enable --now wg-dynamic-server@wg0
and a client with:
  systemctl enable --now wg-dynamic-client@wg0
EOF
cd "$source_dir"
