# Checks on an installed plugfit, shared by tests/install and tests/sdk_consumer (sourced).
# Every check runs with LD_LIBRARY_PATH unset: meson's test environment sets it, a user has none.

fail() { echo "FAIL: $*"; exit 1; }

# plugindir_of PREFIX: the canonical plugin folder of the install under PREFIX, read from its
# plugfit.pc (which names its prefix from its own folder, so a staged tree reads right too).
plugindir_of() {
  local pc
  pc=$(find "$1" -name plugfit.pc -path '*/pkgconfig/*' | head -1)
  [ -n "$pc" ] || fail "no plugfit.pc under $1"
  realpath -m "$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=plugindir plugfit)"
}

# check_runs_from_prefix PREFIX: bin/plugfit and the installed plugins carry relative RUNPATHs,
# and the binary loads libplugfit.so from PREFIX with no LD_LIBRARY_PATH.
check_runs_from_prefix() {
  local prefix plugfit plugindir lib so
  prefix=$(realpath "$1")
  plugfit=$prefix/bin/plugfit
  plugindir=$(plugindir_of "$prefix")
  readelf -d "$plugfit" | grep -Eq 'R(UN)?PATH.*\[\$ORIGIN/' ||
    fail "$plugfit has no \$ORIGIN RUNPATH ($(readelf -d "$plugfit" | grep -Ei 'rpath|runpath' || echo none))"
  for so in "$plugindir"/*.so; do
    readelf -d "$so" | grep -Eq 'R(UN)?PATH' || fail "$so has no RUNPATH"
  done
  lib=$(env -u LD_LIBRARY_PATH ldd "$plugfit" | awk '$1 ~ /^libplugfit\.so/ {print $3}')
  [ -n "$lib" ] && [ "$lib" != "not" ] || fail "ldd $plugfit: libplugfit.so not found without LD_LIBRARY_PATH"
  case "$(realpath "$lib")" in
    "$prefix"/*) ;;
    *) fail "$plugfit resolves libplugfit.so to $lib, outside $prefix" ;;
  esac
  env -u LD_LIBRARY_PATH "$plugfit" --version >/dev/null || fail "$plugfit --version failed without LD_LIBRARY_PATH"
  echo "ok: $plugfit runs without LD_LIBRARY_PATH ($(readelf -d "$plugfit" | sed -n 's/.*R[UN]*PATH.*\[\(.*\)\]/\1/p'))"
}

# check_plugins_listed PREFIX NAME...: `plugfit plugins` lists each plugin from PREFIX's own
# plugin folder, found without PLUGFIT_PLUGIN_PATH or --plugin-path.
check_plugins_listed() {
  local prefix=$1 plugindir listing name
  shift
  plugindir=$(plugindir_of "$prefix")
  listing=$(env -u LD_LIBRARY_PATH -u PLUGFIT_PLUGIN_PATH "$prefix/bin/plugfit" plugins) ||
    fail "plugfit plugins failed"
  for name in "$@"; do
    printf '%s\n' "$listing" | grep -q "^$name [^ ]* (SDK ABI [0-9.]*) $plugindir/$name.so\$" ||
      { printf '%s\n' "$listing"; fail "plugin $name is not listed from $plugindir"; }
  done
  echo "ok: plugfit plugins lists $* from $plugindir"
}
