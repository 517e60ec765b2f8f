/**
 * Benchmark: load + validate (+ render) of a generated fleet of 50 hosts × 20 containers.
 * Run: node --import tsx bench/validate-render.ts [hosts] [containersPerHost]
 *
 * Each container looks like the guide's: data/log/conf/socket mounts, a conf tree with a few files and a
 * relative symlink, ports, environment, a require chain, a socket reference to the container it requires,
 * dns and local_access to a neighbour, and one file: true conf mount. "cold" is the first pass in this
 * process (what one CLI run pays, ajv compilation included); "warm" is the median of the next passes;
 * "cached" uses the YAML parse cache (src/fleet/parse-cache.ts) primed by an earlier run, as a second
 * `man8s` run on an unchanged repo does. CPU is user+system of this process (GC threads included).
 * Target (DESIGN.md): load + validate + render of 1,000 containers well under a second of CPU.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadFleetSync } from '../src/fleet/load.js';
import { formatDiagnostic } from '../src/fleet/model.js';
import type { Fleet } from '../src/fleet/model.js';
import { checkFleet } from '../src/man8s/check.js';
import { desiredHost } from '../src/man8s/render.js';

const HOSTS = Number(process.argv[2] ?? 50);
const PER_HOST = Number(process.argv[3] ?? 20);
const WARM_RUNS = 5;

function write(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

function hostAddress(h: number): string {
  return `200:${(0x1000 + h).toString(16)}:78fb:902a:9a09:9bff:f966:${(0x89a7 + h).toString(16)}`;
}

function containerYaml(h: number, c: number): string {
  const name = `app-${c}`;
  const lines = [`image: registry.example/library/app${c % 7}:1.${c}`, 'mount:', '  data:', `    /var/lib/${name}:`, '      owner: [999, 999]'];
  lines.push('  log:', `    /var/log/${name}: {}`);
  lines.push('  conf:', `    /etc/${name}: {}`, `    /etc/${name}.conf: {file: true, perm: "0640"}`);
  lines.push('  socket:', '    /run/app: {owner: [999, 999]}');
  if (c > 0) lines.push(`    /run/upstream: {source: "app-${c - 1}:/run/app"}`);
  lines.push('port:', `  - [${10000 + c}, 8080]`, `  - [${20000 + c}, 53, true]`);
  lines.push('environment:', '  TZ: UTC', `  APP_ID: ${h * 1000 + c}`, `  UPSTREAM: app-${Math.max(0, c - 1)}.man8s.local`);
  if (c > 0) lines.push(`require: [app-${c - 1}]`, 'dns: app-0', `local_access: [app-${c - 1}]`);
  lines.push('metadata: {author: bench}', 'extra_compose_configs:', '  command: ["serve", "--port", "8080"]', '');
  return lines.join('\n');
}

function generate(root: string): void {
  for (let h = 0; h < HOSTS; h++) {
    const hostDir = join(root, 'hosts', `host-${h}`);
    write(join(hostDir, 'host.yaml'), `ssh: root@host-${h}.example\nyggaddr: ${hostAddress(h)}\ntags: [bench, zone-${h % 3}]\n`);
    for (let c = 0; c < PER_HOST; c++) {
      const name = `app-${c}`;
      const conf = join(hostDir, 'conf', name);
      write(join(conf, 'container.yaml'), containerYaml(h, c));
      write(join(conf, `etc/${name}.conf`), `listen = 8080\nid = ${h}-${c}\n`.repeat(20));
      write(join(conf, `etc/${name}/main.conf`), `# main ${c}\n`.repeat(50));
      write(join(conf, `etc/${name}/sites-available/default`), `server ${c}\n`);
      mkdirSync(join(conf, `etc/${name}/sites-enabled`), { recursive: true });
      symlinkSync('../sites-available/default', join(conf, `etc/${name}/sites-enabled/default`));
      if (c % 4 === 0) write(join(hostDir, 'plugin', name, 'hooks/pre-start'), '#!/bin/sh\nexit 0\n');
    }
  }
}

interface Pass {
  load: number;
  check: number;
  render: number;
  cpu: number;
}

function pass(root: string, render: boolean, cacheDir?: string): { fleet: Fleet; timing: Pass } {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { fleet, diagnostics: loaded } = loadFleetSync({ cwd: root, cacheDir });
  const t1 = performance.now();
  const checked = checkFleet(fleet);
  const t2 = performance.now();
  const problems = [...loaded, ...checked];
  if (problems.length > 0) {
    process.stderr.write(`the generated fleet is not valid (a benchmark bug):\n${problems.slice(0, 20).map(formatDiagnostic).join('\n')}\n`);
    process.exit(1);
  }
  if (render) for (const host of fleet.hosts.keys()) desiredHost(fleet, host);
  const t3 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  return { fleet, timing: { load: t1 - t0, check: t2 - t1, render: t3 - t2, cpu: (cpu.user + cpu.system) / 1000 } };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(0).padStart(5)} ms`;

const root = mkdtempSync(join(tmpdir(), 'man8s-bench-'));
try {
  generate(root);
  const cold = pass(root, true);
  let containers = 0;
  for (const host of cold.fleet.hosts.values()) containers += host.containers.size;
  const medianOf = (runs: Pass[]): Pass => ({
    load: median(runs.map((p) => p.load)),
    check: median(runs.map((p) => p.check)),
    render: median(runs.map((p) => p.render)),
    cpu: median(runs.map((p) => p.cpu)),
  });
  const warm: Pass[] = [];
  for (let i = 0; i < WARM_RUNS; i++) warm.push(pass(root, true).timing);
  const cacheDir = join(root, '.cache');
  pass(root, false, cacheDir); // primes the parse cache
  const cached: Pass[] = [];
  for (let i = 0; i < WARM_RUNS; i++) cached.push(pass(root, true, cacheDir).timing);
  const row = (label: string, p: Pass) =>
    `${label.padEnd(20)} load ${ms(p.load)}  validate ${ms(p.check)}  render ${ms(p.render)}  total ${ms(p.load + p.check + p.render)}  cpu ${ms(p.cpu)}`;
  process.stdout.write(`fleet: ${cold.fleet.hosts.size} hosts, ${containers} containers (node ${process.version})\n`);
  process.stdout.write(`${row('cold (1st pass)', cold.timing)}\n`);
  process.stdout.write(`${row(`warm (median of ${WARM_RUNS})`, medianOf(warm))}\n`);
  process.stdout.write(`${row(`cached (median of ${WARM_RUNS})`, medianOf(cached))}\n`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
