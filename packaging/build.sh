#!/usr/bin/env bash
# Builds groundwork's packages from this checkout.
#
#   packaging/build.sh deb     # target/debian/groundwork_<version>_<arch>.deb (cargo-deb)
#   packaging/build.sh rpm     # target/generate-rpm/groundwork-<version>.<arch>.rpm (cargo-generate-rpm)
#   packaging/build.sh assets  # only the generated files, in target/packaging/
#
# Both formats hold the same files, declared in Cargo.toml ([package.metadata.deb] and
# [package.metadata.generate-rpm]). Some are generated here, from the release binary itself, so
# they always match it: the manual pages (`groundwork man --dir`), the bash, zsh and fish
# completions (`groundwork completions`), the drift units with the package's path to groundwork,
# and the example spec pointing at the installed schema.
#
# Reproducible: every timestamp in a package is SOURCE_DATE_EPOCH, by default the commit's time,
# so two builds of one commit (same toolchain, same paths) are byte-identical
# (tests/package.rs checks it).
#
# Prints the package's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: $0 deb|rpm|assets" >&2
  exit 64
}
(($# == 1)) || usage
kind=$1
case "$kind" in deb | rpm | assets) ;; *) usage ;; esac

need_tool() {
  cargo "$1" --version >/dev/null 2>&1 || {
    echo "build.sh: cargo $1 is missing; install it with: cargo install $2 --locked" >&2
    exit 1
  }
}
case "$kind" in
  deb) need_tool deb cargo-deb ;;
  rpm) need_tool generate-rpm cargo-generate-rpm ;;
esac

epoch=${SOURCE_DATE_EPOCH:-}
if [[ -z "$epoch" ]]; then
  epoch=$(git log -1 --format=%ct 2>/dev/null) || {
    echo "build.sh: not a git checkout: set SOURCE_DATE_EPOCH (seconds since 1970) to the release's time" >&2
    exit 1
  }
fi

# The same build as `cargo build --release --bins` elsewhere (tests, VM suite), so nothing
# rebuilds: without SOURCE_DATE_EPOCH, whose change makes C build scripts (ring's) run again.
env -u SOURCE_DATE_EPOCH cargo build --release --locked --bins
export SOURCE_DATE_EPOCH=$epoch
bin=target/release/groundwork

# Generated files, made anew each time so nothing stale is packaged.
out=target/packaging
rm -rf "$out"
mkdir -p "$out/man" "$out/completions" "$out/systemd" "$out/examples"
"$bin" man --dir "$out/man" >/dev/null
"$bin" completions bash >"$out/completions/groundwork"
"$bin" completions zsh >"$out/completions/_groundwork"
"$bin" completions fish >"$out/completions/groundwork.fish"
# The example units run groundwork from a source install (/usr/local/bin); the package's is in
# /usr/bin.
for unit in groundwork-drift.service groundwork-drift.timer; do
  sed 's,/usr/local/bin/groundwork,/usr/bin/groundwork,g' "examples/systemd/$unit" >"$out/systemd/$unit"
done
grep -q '^ExecStart=/usr/bin/groundwork ' "$out/systemd/groundwork-drift.service" || {
  echo "build.sh: the packaged drift service does not run /usr/bin/groundwork: check ExecStart= in examples/systemd" >&2
  exit 1
}
# The installed example finds the schema where the package puts it.
# shellcheck disable=SC2016 # $schema is the modeline's own text
sed '1s,\$schema=\.\./schema/groundwork\.schema\.json,$schema=/usr/share/groundwork/groundwork.schema.json,' \
  examples/rootless-k3s.yaml >"$out/examples/rootless-k3s.yaml"
# shellcheck disable=SC2016
grep -q '^# yaml-language-server: \$schema=/usr/share/groundwork/' "$out/examples/rootless-k3s.yaml" || {
  echo "build.sh: the example spec's first line is no longer the schema modeline it rewrites" >&2
  exit 1
}
# Git does not keep modes: the umask of a checkout must not reach the packages.
find "$out" -type d -exec chmod 0755 {} +
find "$out" -type f -exec chmod 0644 {} +

case "$kind" in
  assets)
    echo "$out"
    ;;
  deb)
    rm -rf target/debian
    # --no-build: the binaries above; cargo-deb does not strip again (profile.release strips).
    cargo deb --no-build --locked --output target/debian/ | tail -n 1
    ;;
  rpm)
    rm -rf target/generate-rpm
    mkdir -p target/generate-rpm
    cargo generate-rpm --output target/generate-rpm/ >/dev/null
    ls target/generate-rpm/*.rpm
    ;;
esac
