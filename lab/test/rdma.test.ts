import { expect, it } from 'vitest';
import { describeLab, lab, labQemuProcesses, perftestAverage } from './helpers.js';

// perftest through rdma_cm (-R): it picks the RoCEv2 GID of the address by itself.
// 500 x 64 KiB: about 2 s at TCG speeds.
const BW = 'ib_write_bw -d rxe0 -R -s 65536 -n 500';

describeLab('lab --rdma (Soft-RoCE)', () => {
  it('lists rxe0 with ibv_devices and runs ib_write_bw between two processes', async () => {
    const script = [
      'ibv_devices',
      `${BW} >/tmp/server.log 2>&1 & server=$!`,
      'client=1',
      `for i in $(seq 30); do if ${BW} "$LAB_SELF" >/tmp/client.log 2>&1; then client=0; break; fi; sleep 0.5; done`,
      'wait $server; server_status=$?',
      'echo "== client ($client)"; cat /tmp/client.log',
      'echo "== server ($server_status)"; cat /tmp/server.log',
      '[ $client = 0 ] && [ $server_status = 0 ]',
    ].join('\n');
    const r = await lab(['--rdma', '--', script]);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout).toMatch(/^\s*rxe0\s+[0-9a-f]{16}\s*$/m);
    expect(r.stdout).toContain('== client (0)');
    expect(r.stdout).toContain('== server (0)');
    const bw = perftestAverage(r.stdout, 65536);
    expect(bw, r.output).toBeGreaterThan(0);
  });

  it('runs ib_write_bw between two guests (--peers 2)', async () => {
    const script = [
      'echo "role=$LAB_ROLE self=$LAB_SELF peer=$LAB_PEER"',
      'ibv_devices | grep -w rxe0',
      `if [ "$LAB_ROLE" = server ]; then exec ${BW}; fi`,
      // The client retries until the server listens.
      `for i in $(seq 60); do ${BW} "$LAB_PEER" && exit 0; sleep 0.5; done; exit 1`,
    ].join('\n');
    const r = await lab(['--peers', '2', '--', script]);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout).toContain('[server] role=server self=10.0.0.1 peer=10.0.0.2');
    expect(r.stdout).toContain('[client] role=client self=10.0.0.2 peer=10.0.0.1');
    expect(r.stdout).toMatch(/^\[server\]\s+rxe0\s/m);
    expect(r.stdout).toMatch(/^\[client\]\s+rxe0\s/m);
    const lines = r.stdout.split('\n').filter((l) => /^\[(server|client)\]\s+65536\s/.test(l));
    expect(lines.length, r.output).toBe(2); // both ends report the transfer
    expect(perftestAverage(r.stdout, 65536), r.output).toBeGreaterThan(0);
    expect(labQemuProcesses()).toEqual([]);
  });
});
