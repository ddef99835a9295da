#!/usr/bin/env bash
# The mpi plugin's communicator under a real `mpirun` on loopback: CASE is np1, np2, np4 (the
# collectives on that many ranks; 4 oversubscribe 2 cores) or abort (rank 1 aborts, the job ends
# non-zero within seconds). Usage: run_communicator.sh CHECK_PROGRAM CASE
set -uo pipefail
check=$1 case_name=$2
command -v mpirun >/dev/null || { echo "skipped: mpirun is not installed (scripts/setup installs openmpi-bin)"; exit 77; }
# Root in CI containers; shared memory and loopback only, never another host.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader,tcp \
  OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_vader_single_copy_mechanism=none
# meson's MALLOC_PERTURB_ goes to the ranks (-x), not to mpirun: Open MPI 4.1's mpirun reads freed
# memory when it logs a rank's MPI_Abort and crashes when that memory is perturbed.
run() {
  local perturb=()
  [ -n "${MALLOC_PERTURB_:-}" ] && perturb=(-x "MALLOC_PERTURB_=$MALLOC_PERTURB_")
  MALLOC_PERTURB_= timeout -k 5 60 mpirun --oversubscribe --bind-to none "${perturb[@]}" -np "$@" >out.txt 2>&1
}
cd "$(mktemp -d)" || exit 1
case "$case_name" in
  np1 | np2 | np4)
    n=${case_name#np}
    run "$n" "$check"
    code=$?
    cat out.txt
    [ $code -eq 0 ] || { echo "FAIL: exit $code"; exit 1; }
    [ "$(grep -c ': ok$' out.txt)" -eq "$n" ] || { echo "FAIL: not every rank said ok"; exit 1; }
    ;;
  abort)
    start=$SECONDS
    run 2 "$check" abort 1
    code=$?
    cat out.txt
    [ $code -ne 0 ] && [ $code -ne 124 ] && [ $code -ne 137 ] || { echo "FAIL: exit $code (0, or a timeout)"; exit 1; }
    [ $((SECONDS - start)) -le 10 ] || { echo "FAIL: took $((SECONDS - start)) s"; exit 1; }
    ! grep -q "FAILED" out.txt || { echo "FAIL: a rank got past the barrier"; exit 1; }
    ;;
  *) echo "unknown case $case_name"; exit 2 ;;
esac
