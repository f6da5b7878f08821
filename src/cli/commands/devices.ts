// `mamba-dna devices`: which compute devices initialise here, and why the others do not.
import type { Command } from 'commander';
import { probeDevices } from '../../backend/registry.js';
import { writeOut } from '../io.js';

export function register(program: Command): void {
  program
    .command('devices')
    .description('list the compute devices (webgpu, wasm, cpu): what initialised, adapter name and limits, and why others did not')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { json?: boolean }) => {
      const reports = await probeDevices();
      if (opts.json) {
        await writeOut(`${JSON.stringify(reports.map(({ adapter, ...r }) => ({ ...r, adapter })), null, 2)}\n`);
        return;
      }
      const lines = reports.map((r) => `${r.name.padEnd(7)} ${r.ok ? 'ok     ' : 'missing'} ${r.ok ? r.detail : r.reason}`);
      await writeOut(`device  status  detail\n${lines.join('\n')}\n`);
    });
}
