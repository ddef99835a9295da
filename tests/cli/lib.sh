# Shared by the end-to-end test scripts: sourced with the script's arguments PLUGFIT SOURCE_ROOT
# CASE [TEST_PLUGINS]. Each case runs in a fresh folder, removed afterwards.
set -uo pipefail
plugfit=$1
root=$2
case_name=$3
test_plugins=${4:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

fail() { echo "FAIL: $*"; exit 1; }
# Debian's python3 (numpy, h5py): the python3 first on PATH may be another one.
py() { /usr/bin/python3 "$@"; }

# expect_error CODE PATTERN COMMAND...: the command exits with CODE, prints one line on stderr
# matching PATTERN (grep -E), and nothing that looks like a crash.
expect_error() {
  local code=$1 pattern=$2
  shift 2
  "$@" >stdout.txt 2>stderr.txt
  local got=$?
  echo "\$ $* -> exit $got: $(cat stderr.txt)"
  [ "$got" -eq "$code" ] || fail "exit code $got, expected $code"
  [ "$(wc -l <stderr.txt)" -eq 1 ] || fail "expected one line on stderr, got: $(cat stderr.txt)"
  grep -Eq -- "$pattern" stderr.txt || fail "stderr does not match /$pattern/"
  ! grep -Eqi "terminate|core dumped|Segmentation|Aborted" stderr.txt || fail "crash text on stderr"
}
