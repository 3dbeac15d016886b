#!/usr/bin/env bash
# The l2fwd sample and DPDK's testpmd, one after the other on this machine, each forwarding 64-byte
# packets in bursts of 32 between two ports on one core for the same time; prints both figures in
# cycles per packet and their ratio. l2fwd runs twice: as testpmd's io mode forwards (frames
# unchanged, --no-mac-updating), which the ratio compares, and as DPDK's l2fwd does (MAC rewrite). testpmd is Debian's (package dpdk-dev, installed here when
# missing, from the system's own sources): io forwarding between two net_null ports, --no-huge,
# with --record-core-cycles, which divides the forwarding core's busy cycles by the packets received.
#
# What differs between the two (say it with the figures):
#  - l2fwd's driver_cycles_per_packet is the poll loop's time minus the time spent inside the
#    engine's device models (the emulated virtio-net functions) and minus their meter's clock reads
#    on the driver's side (meter_cycles_per_packet: one read per doorbell), per forwarded packet,
#    at the nominal clock; its driver fills and reaps real virtio split rings: descriptors, available and
#    used rings, a refill per packet, all through DMA memory the emulated IOMMU translates.
#  - testpmd's net_null has no rings and no device: its RX takes fresh mbufs from the pool in bulk
#    (the packet bytes are not touched) and its TX frees them in bulk. Its figure is DPDK's own
#    forwarding core (rte_eth_rx_burst/tx_burst, mbuf pool, the io engine) with the cheapest PMD.
# Usage: scripts/bench/l2fwd-vs-testpmd.sh [seconds per run, default 8]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-8}
source "$root/scripts/setup.sh" >/dev/null

"$root/scripts/install-missing.sh" dpdk-dev

l2fwd_run() { dotnet "$root/Samples/Abi.Samples.L2fwd/bin/Release/net10.0/l2fwd.dll" --duration "$seconds" --batch 32 --pkt-size 64 --no-live "$@" 2>/dev/null | tail -n 1; }
field() { grep -oE "\"$1\":[0-9.]+" <<<"$2" | cut -d: -f2; }
l2fwd_json=$(l2fwd_run --no-mac-updating)
mac_json=$(l2fwd_run)
l2fwd=$(field driver_cycles_per_packet "$l2fwd_json")
mac=$(field driver_cycles_per_packet "$mac_json")

# testpmd quits when stdin gives it a line; it forwards on lcore 1 while lcore 0 waits for that.
testpmd_log=$( (sleep "$seconds"; echo) | dpdk-testpmd -l 0,1 --no-huge -m 512 --no-pci --no-shconf \
  --vdev net_null0 --vdev net_null1 --log-level=lib.eal:error -- \
  --forward-mode=io --burst=32 --txpkts=64 --total-num-mbufs=16384 --record-core-cycles 2>&1)
testpmd=$(grep -oE 'CPU cycles/packet=[0-9.]+' <<<"$testpmd_log" | cut -d= -f2)
[ -n "$l2fwd" ] && [ -n "$testpmd" ] || { echo "l2fwd-vs-testpmd: a run gave no figure"; echo "$l2fwd_json"; echo "$testpmd_log" | tail -20; exit 1; }

echo "l2fwd (frames unchanged): $l2fwd_json"
echo "l2fwd (MAC rewrite):      $mac_json"
echo "testpmd: $(grep -E 'CPU cycles/packet' <<<"$testpmd_log" | sed 's/^ *//')"
for json in "$l2fwd_json" "$mac_json"; do
  if [ "$(field drops "$json")" != 0 ] || [ "$(field iommu_faults "$json")" != 0 ] || [ "$(field steady_alloc_bytes "$json")" != 0 ]; then
    echo "l2fwd-vs-testpmd: l2fwd dropped, faulted or allocated: $json"; exit 1
  fi
done
ratio=$(awk -v a="$l2fwd" -v b="$testpmd" 'BEGIN { printf "%.2f", a / b }')
echo "l2fwd-vs-testpmd: l2fwd $l2fwd cycles/packet (frames unchanged; $mac with the MAC rewrite), testpmd io-fwd on net_null $testpmd cycles/packet, ratio $ratio"
