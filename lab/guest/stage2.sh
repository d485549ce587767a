#!/bin/sh
# The lab guest's PID 1 after switch_root (see init). The root is the host's / (read-only 9p under
# a tmpfs overlay), so this runs the host's own sh, modprobe, ip, rdma, ndctl, cxl and node.
# It loads the drivers the run asked for, sets up the devices, runs the job (the user's command),
# and reports its status: a file in the work folder, a line on the console, and the
# isa-debug-exit port. Console protocol (the host hides these lines):
#   \001LAB:BEGIN:<nonce>   the job starts; everything until END is its output
#   \001LAB:END:<nonce>:<status>
#   \001LAB:FAIL:<nonce>:<reason>   setup failed; the job did not run
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HOME=/root
LANG=C.UTF-8
TERM=dumb
export PATH HOME LANG TERM

lab_nonce=- lab_role=solo lab_job= lab_share= lab_features= lab_self= lab_peer= lab_verbose=0 lab_peer_wait=120
for w in $(cat /proc/cmdline); do
  case $w in
    lab_*=*) eval "${w%%=*}=\${w#*=}" ;;
  esac
done
b64d() { printf '%s' "$1" | base64 -d; }
SHARE=$(b64d "$lab_share")
LOG="$SHARE/setup.$lab_role.log"
[ "$lab_verbose" = 1 ] && LOG=/dev/console

exit_guest() {
  # isa-debug-exit: QEMU exits at once with status 2*byte+1. Power off if that device is absent.
  printf "$(printf '\\%03o' $(($1 & 255)))" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
  sleep 2
  echo o >/proc/sysrq-trigger
  sleep 10
}
die() {
  echo "setup failed: $*" >>"$LOG"
  echo 125 >"$SHARE/status.$lab_role"
  sync
  printf '\001LAB:FAIL:%s:%s\n' "$lab_nonce" "$*"
  exit_guest 125
}
has() { case ",$lab_features," in *",$1,"*) return 0 ;; esac; return 1; }
wait_for() { # path [tenths of a second]
  n=0
  while [ ! -e "$1" ]; do
    n=$((n + 1))
    [ "$n" -gt "${2:-100}" ] && return 1
    sleep 0.1
  done
}
log() { "$@" >>"$LOG" 2>&1; }

[ "$lab_verbose" = 1 ] || dmesg -n 1
hostname "lab-$lab_role" 2>/dev/null
ip link set lo up 2>/dev/null

if has rdma; then
  log modprobe -a virtio_net rdma_rxe ib_uverbs rdma_ucm || die "modprobe virtio_net rdma_rxe ib_uverbs rdma_ucm"
  wait_for /sys/class/net/eth0 || die "no eth0 (virtio-net)"
  log ip addr add "$lab_self/24" dev eth0 || die "ip addr add $lab_self/24 dev eth0"
  log ip link set eth0 up || die "ip link set eth0 up"
  log rdma link add rxe0 type rxe netdev eth0 || die "rdma link add rxe0 type rxe netdev eth0"
  wait_for /sys/class/infiniband/rxe0 || die "rxe0 did not appear"
  LAB_RDMA_DEV=rxe0 LAB_NETDEV=eth0 LAB_SELF=$lab_self
  export LAB_RDMA_DEV LAB_NETDEV LAB_SELF
fi

if [ -n "$lab_peer" ]; then
  # Both guests boot at about the same pace; start the job once the peer answers.
  deadline=$(($(date +%s) + lab_peer_wait))
  until busybox ping -c 1 -W 1 "$lab_peer" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && die "peer $lab_peer did not answer within ${lab_peer_wait} s"
    sleep 0.2
  done
  LAB_ROLE=$lab_role LAB_PEER=$lab_peer
  export LAB_ROLE LAB_PEER
fi

if has dax; then
  log modprobe -a device_dax dax_pmem nd_pmem nfit || die "modprobe device_dax dax_pmem nd_pmem nfit"
  wait_for /sys/bus/nd/devices/region0 || die "no NVDIMM region (region0)"
  if ndctl list -N -r region0 2>/dev/null | grep -q '"mode":"devdax"'; then
    : # made on an earlier boot on the same backing file: it comes back by itself
  else
    # Label-less NVDIMMs cannot be carved: write labels, then make a devdax namespace.
    log ndctl disable-region region0 || die "ndctl disable-region region0"
    log ndctl init-labels -f nmem0 || die "ndctl init-labels -f nmem0"
    log ndctl enable-region region0 || die "ndctl enable-region region0"
    log ndctl create-namespace -r region0 -m devdax -a 2M -s 496M || die "ndctl create-namespace -m devdax"
  fi
  wait_for /dev/dax0.0 50 || die "/dev/dax0.0 did not appear"
  LAB_DAX=/dev/dax0.0
  export LAB_DAX
fi

if has numa; then
  LAB_NUMA_NODE=1
  export LAB_NUMA_NODE
fi

if has cxl; then
  log modprobe -a cxl_acpi cxl_pci cxl_port cxl_mem cxl_pmem nd_pmem dax_pmem device_dax || die "modprobe cxl_acpi cxl_pci cxl_port cxl_mem cxl_pmem"
  wait_for /sys/bus/cxl/devices/mem0 || die "no CXL memdev (mem0)"
  wait_for /sys/bus/cxl/devices/decoder0.0 || die "no CXL root decoder (decoder0.0)"
  # The endpoint port probes asynchronously: retry until the region can be made.
  n=0
  until log cxl create-region -m -d decoder0.0 -w 1 -g 256 -t pmem -s 256M mem0; do
    n=$((n + 1))
    [ "$n" -gt 20 ] && die "cxl create-region -m -d decoder0.0 -w 1 -g 256 -t pmem -s 256M mem0"
    sleep 0.5
  done
  LAB_CXL_MEMDEV=mem0 LAB_CXL_REGION=$(cd /sys/bus/cxl/devices && ls -d region* 2>/dev/null | head -n 1)
  export LAB_CXL_MEMDEV LAB_CXL_REGION
fi

LAB=1 LAB_WORK=$SHARE
export LAB LAB_WORK

JOB=/run/lab-job.sh
if [ "$lab_job" = @ ]; then cp "$SHARE/job.$lab_role.sh" $JOB; else b64d "$lab_job" >$JOB; fi

printf '\001LAB:BEGIN:%s\n' "$lab_nonce"
# Through a pipe, not the console tty (programs print plain output, no terminal redraws). Once the
# job exits, whatever it left in the background gets a second to finish writing.
mkfifo /run/lab-out
cat /run/lab-out &
cat_pid=$!
sh $JOB </dev/null >/run/lab-out 2>&1
st=$?
(sleep 1 && kill $cat_pid 2>/dev/null) &
wait $cat_pid 2>/dev/null

echo "$st" >"$SHARE/status.$lab_role"
sync
printf '\001LAB:END:%s:%s\n' "$lab_nonce" "$st"
exit_guest "$st"
