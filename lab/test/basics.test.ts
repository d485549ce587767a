import { expect, it } from 'vitest';
import { describeLab, lab, labQemuProcesses, leftoverWorkFolders, REPO } from './helpers.js';

describeLab('lab basics', () => {
  it('runs a command through `pnpm lab` in the caller\'s folder and returns its exit status', async () => {
    const r = await lab(
      ['--env', 'GREETING=hello lab', '--', 'sh', '-c', 'echo "cwd=$(pwd) kernel=$(uname -r) greeting=$GREETING arg=$1"; exit 7', 'sh', "it's"],
      { viaPnpm: true },
    );
    expect(r.status, r.output).toBe(7);
    expect(r.stdout).toContain(`cwd=${REPO} `);
    expect(r.stdout).toMatch(/kernel=6\.\d+\.\d+-\d+-amd64 /);
    expect(r.stdout).toContain("greeting=hello lab arg=it's");
    // Kernel and init noise stay off the command's output.
    expect(r.stdout).not.toMatch(/Linux version|Run \/init|LAB:(BEGIN|END)/);
  });

  it('sees the host root read-only, with a writable overlay that does not reach the host', async () => {
    const r = await lab(['--', `touch ${REPO}/lab/.work/overlay-probe && echo overlay-ok; test -e /proc/1 && echo proc-ok`]);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout).toContain('overlay-ok');
    expect(r.stdout).toContain('proc-ok');
    expect(leftoverWorkFolders()).toEqual([]);
    const { existsSync } = await import('node:fs');
    expect(existsSync(`${REPO}/lab/.work/overlay-probe`)).toBe(false);
  });

  it('ends a guest that runs past --timeout by its PID, exits 124 and leaves nothing behind', async () => {
    // Long enough for the guest to boot and start the command on a loaded 2-core machine (TCG).
    const r = await lab(['--timeout', '45', '--', 'echo started; sleep 600']);
    expect(r.status, r.output).toBe(124);
    expect(r.stdout).toContain('started');
    expect(r.stderr).toContain('timed out after 45 s');
    expect(r.seconds).toBeLessThan(90);
    expect(labQemuProcesses()).toEqual([]);
    expect(leftoverWorkFolders()).toEqual([]);
  });
});
