import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { writeBenchmarkSectionPart } from '../../scripts/lib/benchmarks-doc.ts';

/**
 * `pnpm bench:router`: the router against its limit and its peer, in one run.
 * Targets, all in front of the same stub upstream (bench/stub-upstream.ts):
 *   direct   the upstream itself (the limit)
 *   bare     a bare @fastify/http-proxy (the peer)
 *   router   our edge router: route table, decision, flags, metrics, logging on
 *   nginx    nginx as reverse proxy, when it is installed
 * For each: requests/s at saturation, then p50/p99 latency at a fixed rate, on
 * a GET and a POST. Results are printed and written into docs/benchmarks.md.
 *
 * Then, in the same run and on the same requests, two router processes
 * against one (the `processes` part of the section). Two processes are two
 * independent routers on two ports, and the load generator spreads its
 * connections over both, as a Service spreads connections over router pods:
 * nothing sits in front of them that production does not have (a cluster
 * primary would be a third process on two cores, and production has none).
 * Pinned, the first process keeps the proxy's CPU and the second gets the
 * other one, which it shares with the load generator and the upstream: this
 * machine has no third core. One and two processes (and direct, the ceiling of
 * load generator and upstream) are measured back to back in each round, in
 * alternating order, and the ratio of two to one is the median over rounds.
 *
 * How latency is measured, and why (the "added p99" is a difference of two
 * tails, so anything that is not the proxy must be the same on both sides):
 *  - Pinned: with taskset and 2+ CPUs, the load generator and the upstream run
 *    on CPU 0 and the proxy under test alone on CPU 1, as a router has its own
 *    cores in production. Unpinned, on 2 cores, the three compete and the
 *    scheduler's delays, not the proxy, make the tail (--no-pin to see it).
 *  - Interleaved rounds: every round measures every target back to back, in a
 *    rotated order, and the added p99 of a round is the target's p99 minus the
 *    direct p99 of the same round. The reported figure is the median over the
 *    rounds, so a burst of load from other processes spoils one round, not the
 *    result; every round is printed.
 *  - Quiet: before each round the harness waits (up to --quiet-wait seconds)
 *    until other processes use less than --quiet-max % of the machine, and
 *    records how much they used while the round ran.
 *  - The machine's floor: a process that does nothing but sleep briefly on the
 *    proxy's CPU times how late it wakes up. A proxied request needs the proxy
 *    to wake up twice; if the machine alone wakes a process over 1 ms late for
 *    0.5 % of wake-ups, no proxy can add under 1 ms at p99 here.
 */

const HELP = `Usage: pnpm bench:router [options]

  --duration <s>        seconds per saturation measurement (default 10)
  --connections <n>     connections at saturation (default 50)
  --rate <req/s>        the fixed rate for the latency measurement (default 1000)
  --rounds <n>          quiet latency rounds wanted per request kind (default 5)
  --round-seconds <s>   seconds per target per round (default 3)
  --quiet-max <%>       a round is quiet when other processes use less than this share of the machine
                        while it runs; the harness waits for that before each round (default 15)
  --quiet-wait <s>      the most the whole run waits for quiet; after that, rounds run as they come (default 900)
  --processes-rounds <n>  rounds of two router processes against one, each at saturation for --duration s
                        and at the fixed rate for --round-seconds s (default 3)
  --no-processes        measure one router process only; the processes part of the doc is kept as it is
  --quick               a smoke run: --duration 2 --rounds 1 --round-seconds 1 --quiet-wait 0 --processes-rounds 1
  --no-pin              do not pin processes to CPUs (to compare)
  --no-write            print the tables without updating docs/benchmarks.md
`;

/** The parts of the doc's router section, in their order there. */
const PARTS = ['proxies', 'processes'] as const;

const _ROOT = resolve(import.meta.dirname, '../..');
const BENCH = import.meta.dirname;

interface Proc {
  child: ChildProcess;
  port: number;
}

/** CPU sets when pinning: the load generator and the upstream on one, the proxy under test alone on the other. */
interface Pinning {
  load: string;
  proxy: string;
}

function pinningFor(enabled: boolean): Pinning | null {
  if (!enabled || cpus().length < 2) return null;
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return { load: '0', proxy: '1' };
}

function spawnPinned(cpu: string | null, command: string, args: string[], options: Parameters<typeof spawn>[2]) {
  return cpu ? spawn('taskset', ['-c', cpu, command, ...args], options) : spawn(command, args, options);
}

function start(script: string, env: Record<string, string>, cpu: string | null): Promise<Proc> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnPinned(cpu, process.execPath, [script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += String(chunk);
      const match =
        /ready (\d+)/.exec(buffer) ?? /"msg":"Server listening at http:\/\/127\.0\.0\.1:(\d+)"/.exec(buffer);
      if (match) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolvePromise({ child, port: Number(match[1]) });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
}

function startNginx(upstreamPort: number, port: number, cpu: string | null): Promise<Proc | null> {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
  } catch {
    return Promise.resolve(null);
  }
  const dir = mkdtempSync(join(tmpdir(), 'strangler-nginx-'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream stub { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://stub; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
`,
  );
  const child = spawnPinned(cpu, 'nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: 'ignore',
  });
  return new Promise((r) => setTimeout(() => r({ child, port }), 500));
}

/**
 * CPU time (clock ticks) the machine spent busy, and that our processes spent,
 * from /proc; the difference over an interval is what other processes used.
 * Not measured where there is no /proc.
 */
class BackgroundLoad {
  readonly #pids: number[];
  constructor(pids: number[]) {
    this.#pids = pids;
  }

  static available(): boolean {
    return existsSync('/proc/stat');
  }

  #sample(): { busy: number; total: number; ours: number } {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    let ours = 0;
    // Our processes and their children (nginx's worker, the probes).
    const pids = [...this.#pids];
    for (let i = 0; i < pids.length; i++) {
      try {
        const stat = readFileSync(`/proc/${pids[i]}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ours += Number(rest[11]) + Number(rest[12]);
        const children = readFileSync(`/proc/${pids[i]}/task/${pids[i]}/children`, 'utf8').trim();
        for (const child of children ? children.split(' ').map(Number) : []) {
          if (!pids.includes(child)) pids.push(child);
        }
      } catch {
        // The process is gone: it uses nothing.
      }
    }
    return { busy: total - idle, total, ours };
  }

  /** Starts an interval; the function it returns gives the share (%) of the machine other processes used. */
  begin(): () => number {
    const a = this.#sample();
    return () => {
      const b = this.#sample();
      const total = b.total - a.total;
      return total > 0 ? Math.max(0, (100 * (b.busy - a.busy - (b.ours - a.ours))) / total) : 0;
    };
  }

  /** Waits until other processes use less than `maxPercent`, at most `maxWaitMs`; returns the last share seen. */
  async quiet(maxPercent: number, maxWaitMs: number): Promise<{ percent: number; waitedMs: number }> {
    const started = performance.now();
    for (;;) {
      const end = this.begin();
      await new Promise((r) => setTimeout(r, 1_000));
      const percent = end();
      const waitedMs = performance.now() - started;
      if (percent < maxPercent || waitedMs >= maxWaitMs) return { percent, waitedMs };
    }
  }
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * Starts an interval; the function it returns gives the cores the processes
 * `pids` used meanwhile together (1 = one core busy all the time), from
 * /proc, or null where there is none.
 */
function beginCpu(pids: number[]): () => number | null {
  const ticks = () => {
    let sum = 0;
    for (const pid of pids) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      sum += Number(rest[11]) + Number(rest[12]);
    }
    return sum;
  };
  let from: number;
  try {
    from = ticks();
  } catch {
    return () => null;
  }
  const started = performance.now();
  return () => {
    try {
      return (ticks() - from) / CLOCK_TICKS / ((performance.now() - started) / 1000);
    } catch {
      return null;
    }
  };
}

interface WakeUps {
  count: number;
  /** Share (%) of wake-ups more than 1 ms late. */
  lateOver1ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * A process on the proxy's CPU sleeps 0.2 ms at a time, like a proxy waiting
 * for its next packet, and times how late it wakes up: how long the CPU makes
 * a ready proxy wait, before the proxy has done anything.
 */
const WAKE_PROBE = `
const ms = Number(process.argv[1]); const cell = new Int32Array(new SharedArrayBuffer(4)); const late = [];
for (const end = performance.now() + ms; performance.now() < end; ) {
  const t = performance.now(); Atomics.wait(cell, 0, 0, 0.2); late.push(performance.now() - t - 0.2);
}
late.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({
  count: late.length,
  lateOver1ms: (100 * late.filter((l) => l > 1).length) / late.length,
  p99Ms: late[Math.floor(0.99 * late.length)] ?? 0,
  maxMs: late[late.length - 1] ?? 0,
}));`;

function probeWakeUps(cpu: string | null, ms: number): Promise<WakeUps> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnPinned(cpu, process.execPath, ['-e', WAKE_PROBE, String(ms)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += String(chunk);
    });
    child.once('exit', (code) =>
      code === 0 ? resolvePromise(JSON.parse(out) as WakeUps) : reject(new Error(`wake-up probe exited with ${code}`)),
    );
  });
}

interface Saturation {
  rps: number;
  errors: number;
}

/** Several ports: the connections are spread evenly over them (autocannon takes them in turn). */
async function saturate(
  port: number | number[],
  method: Method,
  seconds: number,
  connections: number,
): Promise<Saturation> {
  const urls = [port].flat().map((p) => `http://127.0.0.1:${p}${PATHS[method]}`);
  const result = await autocannon({
    // autocannon takes several URLs (connection i goes to URL i mod n); its types know one.
    url: urls as unknown as string,
    method,
    connections,
    duration: seconds,
    ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: ORDER } : {}),
  });
  return { rps: result.requests.average, errors: result.errors + result.non2xx };
}

type Method = 'GET' | 'POST';
const PATHS: Record<Method, string> = { GET: '/api/products/1', POST: '/api/orders' };
const ORDER = JSON.stringify({ userId: 1, items: [{ productId: 1, quantity: 1 }] });

interface Latency {
  p50: number;
  p99: number;
  errors: number;
}

/**
 * Latency at a fixed request rate, with microsecond resolution (autocannon
 * reports whole milliseconds): requests are started on schedule whether or not
 * earlier ones have finished (no coordinated omission), never before their
 * time, and each is timed from its scheduled start. A short warm-up on the
 * same connections comes first and is not counted.
 */
async function measureLatency(
  port: number | number[],
  method: Method,
  rate: number,
  seconds: number,
): Promise<Latency> {
  // Several ports: one pool each, and the requests take them in turn.
  const pools = [port].flat().map((p) => new Pool(`http://127.0.0.1:${p}`, { connections: 64, pipelining: 1 }));
  try {
    await onSchedule(pools, method, rate, Math.ceil(rate / 4), () => {});
    const latencies: number[] = [];
    let errors = 0;
    await onSchedule(pools, method, rate, rate * seconds, (ms, ok) => {
      if (ok) latencies.push(ms);
      else errors++;
    });
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return { p50: at(0.5), p99: at(0.99), errors };
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
}

async function onSchedule(
  pools: Pool[],
  method: Method,
  rate: number,
  count: number,
  record: (ms: number, ok: boolean) => void,
): Promise<void> {
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) {
      await new Promise((r) => setTimeout(r, Math.max(1, Math.floor(wait))));
    }
    inFlight.push(
      (pools[i % pools.length] as Pool)
        .request({
          method,
          path: PATHS[method],
          ...(method === 'POST' ? { body: ORDER, headers: { 'content-type': 'application/json' } } : {}),
        })
        .then(async (res) => {
          await res.body.dump();
          record(performance.now() - due, res.statusCode < 400);
        })
        .catch(() => record(0, false)),
    );
  }
  await Promise.all(inFlight);
}

interface Round {
  /** Per target: the measurement of this round. */
  latency: Map<string, Latency>;
  /** Share (%) of the machine other processes used while the round ran; before it, how long it waited. */
  background: number;
  waitedMs: number;
  /** Other processes stayed under --quiet-max while it ran. */
  quiet: boolean;
}

interface Row {
  target: string;
  method: Method;
  sat: Saturation;
  p50: number;
  p99: number;
  /** Per round: p99 minus the direct p99 of that round; empty for direct. */
  added: number[];
  errors: number;
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      rate: { type: 'string', default: '1000' },
      connections: { type: 'string', default: '50' },
      rounds: { type: 'string' },
      'round-seconds': { type: 'string' },
      'quiet-max': { type: 'string', default: '15' },
      'quiet-wait': { type: 'string' },
      'processes-rounds': { type: 'string' },
      'no-processes': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const quick = values.quick;
  const seconds = Number(values.duration ?? (quick ? '2' : '10'));
  const rate = Number(values.rate);
  const connections = Number(values.connections);
  const rounds = Number(values.rounds ?? (quick ? '1' : '5'));
  const roundSeconds = Number(values['round-seconds'] ?? (quick ? '1' : '3'));
  const quietMax = Number(values['quiet-max']);
  const quietWait = Number(values['quiet-wait'] ?? (quick ? '0' : '900'));
  const processesRounds = Number(values['processes-rounds'] ?? (quick ? '1' : '3'));
  const withProcesses = !values['no-processes'];
  const command = `pnpm bench:router${quick ? ' --quick' : ''}`;
  if (![seconds, rate, connections, rounds, roundSeconds, processesRounds].every((n) => Number.isInteger(n) && n > 0)) {
    console.error(
      'error: --duration, --rate, --connections, --rounds, --round-seconds and --processes-rounds must be positive whole numbers',
    );
    process.exitCode = 2;
    return;
  }
  if (!(quietMax > 0 && quietMax <= 100) || !(quietWait >= 0)) {
    console.error('error: --quiet-max must be a percentage above 0 and --quiet-wait a number of seconds');
    process.exitCode = 2;
    return;
  }
  const pinning = pinningFor(!values['no-pin']);
  if (pinning) execFileSync('taskset', ['-a', '-p', '-c', pinning.load, String(process.pid)], { stdio: 'ignore' });

  const procs: ChildProcess[] = [];
  try {
    const stub = await start(join(BENCH, 'stub-upstream.ts'), { PORT: '0' }, pinning?.load ?? null);
    procs.push(stub.child);
    const upstreamUrl = `http://127.0.0.1:${stub.port}`;
    const bare = await start(
      join(BENCH, 'bare-proxy.ts'),
      { PORT: '0', UPSTREAM_URL: upstreamUrl },
      pinning?.proxy ?? null,
    );
    procs.push(bare.child);
    const router = await start(
      join(BENCH, 'router-process.ts'),
      { PORT: '0', MONOLITH_URL: upstreamUrl },
      pinning?.proxy ?? null,
    );
    procs.push(router.child);
    // The second router process, for the processes part: pinned, the CPU it
    // gets is the one the load generator and upstream use (see the header).
    const router2 = withProcesses
      ? await start(join(BENCH, 'router-process.ts'), { PORT: '0', MONOLITH_URL: upstreamUrl }, pinning?.load ?? null)
      : null;
    if (router2) procs.push(router2.child);
    const nginx = await startNginx(stub.port, 18080 + Math.floor(Math.random() * 1000), pinning?.proxy ?? null);
    if (nginx) procs.push(nginx.child);
    const load = BackgroundLoad.available()
      ? new BackgroundLoad([process.pid, ...procs.map((p) => p.pid ?? 0).filter(Boolean)])
      : null;

    const targets: Array<[string, number]> = [
      ['direct (the limit)', stub.port],
      ['@fastify/http-proxy (bare peer)', bare.port],
      ['edge-router (flags, metrics, logs)', router.port],
      ...(nginx ? ([['nginx', nginx.port]] as Array<[string, number]>) : []),
    ];
    const methods = ['GET', 'POST'] as const;

    const waitUntil = performance.now() + quietWait * 1000;
    if (load) await load.quiet(quietMax, quietWait * 1000);
    const endSaturation = load?.begin();
    const saturation = new Map<string, Saturation>();
    for (const method of methods) {
      for (const [name, port] of targets) {
        await saturate(port, method, 2, 10); // warm up pools and JIT
        const sat = await saturate(port, method, seconds, connections);
        saturation.set(`${method} ${name}`, sat);
        console.log(`${method} ${name}: ${Math.round(sat.rps)} req/s at saturation; errors ${sat.errors}`);
      }
    }
    const saturationBackground = endSaturation ? endSaturation() : null;

    // Rounds until each method has `rounds` quiet ones. Waiting for quiet is
    // bounded for the whole run; once that budget is spent, rounds run as they
    // come until each method has `rounds` in all, and the report says so.
    if (load) await load.quiet(quietMax, Math.max(0, waitUntil - performance.now()));
    const wakeUps = await probeWakeUps(pinning?.proxy ?? null, 5_000);
    console.log(
      `wake-ups on the proxy's CPU, 5 s: ${wakeUps.lateOver1ms.toFixed(2)} % over 1 ms late, p99 ${wakeUps.p99Ms.toFixed(2)} ms, longest ${wakeUps.maxMs.toFixed(2)} ms`,
    );
    const byMethod = new Map<Method, Round[]>(methods.map((m) => [m, []]));
    const quietOf = (m: Method) => (byMethod.get(m) as Round[]).filter((r) => r.quiet);
    for (let r = 0; ; r++) {
      const method = methods[r % methods.length] as Method;
      const done = (m: Method) =>
        quietOf(m).length >= rounds ||
        (performance.now() >= waitUntil && (byMethod.get(m) as Round[]).length >= rounds);
      if (methods.every(done)) break;
      if (done(method)) continue;
      const waited = load ? await load.quiet(quietMax, Math.max(0, waitUntil - performance.now())) : { waitedMs: 0 };
      const end = load?.begin();
      const order = targets.map((_, i) => targets[(i + Math.floor(r / 2)) % targets.length] as [string, number]);
      const latency = new Map<string, Latency>();
      for (const [name, port] of order) latency.set(name, await measureLatency(port, method, rate, roundSeconds));
      const background = end ? end() : 0;
      const round: Round = { latency, background, waitedMs: waited.waitedMs, quiet: background < quietMax };
      (byMethod.get(method) as Round[]).push(round);
      const direct = latency.get(targets[0]?.[0] as string) as Latency;
      console.log(
        `${method} round ${(byMethod.get(method) as Round[]).length} (${round.quiet ? 'quiet' : 'NOISY'}: others used ${background.toFixed(0)} % of the machine; waited ${(waited.waitedMs / 1000).toFixed(0)} s before): ${targets
          .map(([name]) => {
            const l = latency.get(name) as Latency;
            return `${name.split(' ')[0]} p50 ${l.p50.toFixed(2)} p99 ${l.p99.toFixed(2)}${l === direct ? '' : ` (+${(l.p99 - direct.p99).toFixed(2)})`}`;
          })
          .join(', ')}`,
      );
    }

    const rows: Row[] = [];
    const counted = new Map<Method, { quiet: number; all: number }>();
    for (const method of methods) {
      const all = byMethod.get(method) as Round[];
      // Only quiet rounds count when there are any; else all, and the report says so.
      const rs = quietOf(method).length > 0 ? quietOf(method) : all;
      counted.set(method, { quiet: quietOf(method).length, all: all.length });
      const directName = targets[0]?.[0] as string;
      for (const [name] of targets) {
        const of = (r: Round) => r.latency.get(name) as Latency;
        rows.push({
          target: name,
          method,
          sat: saturation.get(`${method} ${name}`) as Saturation,
          p50: median(rs.map((r) => of(r).p50)),
          p99: median(rs.map((r) => of(r).p99)),
          added: name === directName ? [] : rs.map((r) => of(r).p99 - (r.latency.get(directName) as Latency).p99),
          errors: rs.reduce((n, r) => n + of(r).errors, 0),
        });
      }
    }
    const table = render(rows, {
      command,
      seconds,
      rate,
      connections,
      roundSeconds,
      pinning,
      nginx: Boolean(nginx),
      redis: Boolean(process.env.REDIS_URL),
      counted,
      quietMax: load ? quietMax : null,
      saturationBackground,
      wakeUps,
    });
    console.log(`\n${table}`);
    if (!values['no-write']) {
      writeBenchmarkSectionPart('router', 'Edge router', 'proxies', table, PARTS);
      console.log('docs/benchmarks.md updated (the proxies part).');
    }

    if (router2) {
      const measured = await measureProcesses({
        ports: { direct: stub.port, one: [router.port], two: [router.port, router2.port] },
        routerPids: { one: [router.child.pid ?? 0], two: [router.child.pid ?? 0, router2.child.pid ?? 0] },
        loadPids: [process.pid, stub.child.pid ?? 0],
        methods,
        seconds,
        connections,
        rate,
        roundSeconds,
        rounds: processesRounds,
        load,
        quietMax,
        waitUntil,
      });
      const part = renderProcesses(measured, {
        command,
        seconds,
        rate,
        connections,
        roundSeconds,
        pinning,
        quietMax: load ? quietMax : null,
        redis: Boolean(process.env.REDIS_URL),
      });
      console.log(`\n${part}`);
      if (!values['no-write']) {
        writeBenchmarkSectionPart('router', 'Edge router', 'processes', part, PARTS);
        console.log('docs/benchmarks.md updated (the processes part).');
      }
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
  }
}

/** The date and the machine, for a measurement note. */
const measuredOn = () =>
  `${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;

/** What every table's measurement note says about the run. */
interface RunInfo {
  command: string;
  seconds: number;
  rate: number;
  connections: number;
  roundSeconds: number;
  pinning: Pinning | null;
  redis: boolean;
}

function render(
  rows: Row[],
  run: RunInfo & {
    nginx: boolean;
    counted: Map<Method, { quiet: number; all: number }>;
    quietMax: number | null;
    saturationBackground: number | null;
    wakeUps: WakeUps;
  },
): string {
  const exposed = 2 * run.wakeUps.lateOver1ms;
  const stalls = ` Before the rounds, a process sleeping 0.2 ms at a time on the proxy's CPU for 5 s woke up over 1 ms late ${run.wakeUps.lateOver1ms.toFixed(2)} % of the time (p99 ${run.wakeUps.p99Ms.toFixed(2)} ms, longest ${run.wakeUps.maxMs.toFixed(1)} ms). A proxied request waits for the proxy to wake twice (the request, then the upstream's answer), so the machine alone makes about ${exposed.toFixed(1)} % of proxied requests over 1 ms slower: ${exposed >= 1 ? 'more than the 1 % a p99 allows, whatever the proxy does' : 'less than the 1 % a p99 allows'}.`;
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  const setup = run.pinning
    ? `Pinned with taskset: load generator and upstream on CPU ${run.pinning.load}, the proxy under test alone on CPU ${run.pinning.proxy}.`
    : 'Not pinned: load generator, proxies and upstream share every core.';
  const rounds = [...run.counted].map(([method, c]) =>
    run.quietMax === null
      ? `${c.all} ${method} rounds`
      : c.quiet > 0
        ? `${c.quiet} quiet ${method} rounds${c.all > c.quiet ? ` (${c.all - c.quiet} noisy left out)` : ''}`
        : `${c.all} ${method} rounds, NONE of them quiet`,
  );
  const quiet =
    run.quietMax === null
      ? ''
      : ` A round is quiet when other processes used less than ${run.quietMax} % of the machine while it ran (the harness waits for that before each round, within a time budget); only quiet rounds count when there are any.${run.saturationBackground === null ? '' : ` During the saturation measurements other processes used ${run.saturationBackground.toFixed(0)} %.`}`;
  const lines = [
    '### Against the limit and its peers',
    '',
    `Measured ${measuredOn()}, with \`${run.command}\`. ${setup} Saturation: autocannon, ${run.connections} connections, ${run.seconds} s per target. Latency: ${run.rate} req/s on a fixed schedule, each request timed from its scheduled start (no coordinated omission), in interleaved rounds of ${run.roundSeconds} s per target (${rounds.join(', ')}); p50 and p99 are medians over the rounds, and the added p99 is the median over the rounds of (target p99 − direct p99 in the same round), with the smallest and largest round in brackets.${quiet} The router runs ${run.redis ? 'with Redis (traffic counts, write fence)' : 'without Redis (no traffic counts or write fence)'}.${stalls}${run.nginx ? '' : ' nginx was not installed, so it is not in this run.'}`,
    '',
    '| request | target | req/s at saturation | vs direct | p50 ms at fixed rate | p99 ms at fixed rate | p99 added vs direct | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const direct = rows.find((d) => d.method === r.method && d.target.startsWith('direct')) as Row;
    const added = r.added.length
      ? `${ms(median(r.added))} (${Math.min(...r.added).toFixed(2)} to ${Math.max(...r.added).toFixed(2)})`
      : '–';
    lines.push(
      `| ${r.method} | ${r.target} | ${Math.round(r.sat.rps)} | ${(r.sat.rps / direct.sat.rps).toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${added} | ${r.sat.errors + r.errors} |`,
    );
  }
  const router = rows.filter((r) => r.target.startsWith('edge-router'));
  const met = router.every((r) => median(r.added) < 1);
  const trusted = run.quietMax === null || [...run.counted.values()].every((c) => c.quiet > 0);
  lines.push(
    '',
    `Target, p99 added < 1 ms at ${run.rate} req/s: ${met ? 'met' : 'not met'} in this run (router: ${router.map((r) => `${r.method} ${ms(median(r.added))}`).join(', ')})${trusted ? '' : ", but with no quiet round this measures the machine's load more than the router"}.`,
  );
  return lines.join('\n');
}

type Setup = 'direct' | 'one' | 'two';
const SETUPS: readonly Setup[] = ['direct', 'one', 'two'];
const SETUP_NAMES: Record<Setup, string> = {
  direct: 'direct (the ceiling here)',
  one: 'edge-router, one process',
  two: 'edge-router, two processes',
};

interface ProcessesRound {
  method: Method;
  sat: Record<Setup, Saturation>;
  /** Cores used during each saturation: by the router processes, and by the load generator and upstream. */
  routerCores: Record<Setup, number | null>;
  loadCores: Record<Setup, number | null>;
  latency: Record<Setup, Latency>;
  /** Share (%) of the machine other processes used while the round ran. */
  background: number;
  quiet: boolean;
}

/**
 * Two router processes against one, and direct as the ceiling: each round
 * takes one request kind and measures every setup at saturation, then at the
 * fixed rate, back to back, in an order that reverses from round to round.
 * Rounds go on until each kind has `rounds` quiet ones, or, once the run's
 * budget for waiting is spent, `rounds` in all (as for the latency rounds).
 */
async function measureProcesses(o: {
  ports: Record<Setup, number | number[]>;
  routerPids: { one: number[]; two: number[] };
  loadPids: number[];
  methods: readonly Method[];
  seconds: number;
  connections: number;
  rate: number;
  roundSeconds: number;
  rounds: number;
  load: BackgroundLoad | null;
  quietMax: number;
  waitUntil: number;
}): Promise<ProcessesRound[]> {
  for (const method of o.methods) for (const setup of SETUPS) await saturate(o.ports[setup], method, 2, 10);
  const done: ProcessesRound[] = [];
  const of = (m: Method) => done.filter((r) => r.method === m);
  const enough = (m: Method) =>
    of(m).filter((r) => r.quiet).length >= o.rounds || (performance.now() >= o.waitUntil && of(m).length >= o.rounds);
  for (let r = 0; !o.methods.every(enough); r++) {
    const method = o.methods[r % o.methods.length] as Method;
    if (enough(method)) continue;
    if (o.load) await o.load.quiet(o.quietMax, Math.max(0, o.waitUntil - performance.now()));
    const end = o.load?.begin();
    const order = Math.floor(r / o.methods.length) % 2 === 0 ? SETUPS : [...SETUPS].reverse();
    const sat = {} as Record<Setup, Saturation>;
    const routerCores = {} as Record<Setup, number | null>;
    const loadCores = {} as Record<Setup, number | null>;
    for (const setup of order) {
      const endRouters = setup === 'direct' ? () => null : beginCpu(o.routerPids[setup]);
      const endLoad = beginCpu(o.loadPids);
      sat[setup] = await saturate(o.ports[setup], method, o.seconds, o.connections);
      routerCores[setup] = endRouters();
      loadCores[setup] = endLoad();
    }
    const latency = {} as Record<Setup, Latency>;
    for (const setup of order) latency[setup] = await measureLatency(o.ports[setup], method, o.rate, o.roundSeconds);
    const background = end ? end() : 0;
    const round: ProcessesRound = {
      method,
      sat,
      routerCores,
      loadCores,
      latency,
      background,
      quiet: background < o.quietMax,
    };
    done.push(round);
    const cores = (n: number | null) => (n === null ? '' : `, ${n.toFixed(2)} cores`);
    console.log(
      `${method} processes round ${of(method).length} (${round.quiet ? 'quiet' : 'NOISY'}: others used ${background.toFixed(0)} % of the machine): ${SETUPS.map(
        (setup) =>
          `${setup} ${Math.round(sat[setup].rps)} req/s${cores(routerCores[setup])}, p50 ${latency[setup].p50.toFixed(2)} p99 ${latency[setup].p99.toFixed(2)}`,
      ).join('; ')}; two/one ${(sat.two.rps / sat.one.rps).toFixed(2)}`,
    );
  }
  return done;
}

function renderProcesses(all: ProcessesRound[], run: RunInfo & { quietMax: number | null }): string {
  const methods = [...new Set(all.map((r) => r.method))];
  // Only quiet rounds count when a request kind has any; else all, and the note says so.
  const counted = (m: Method) => {
    const rounds = all.filter((r) => r.method === m);
    const quiet = rounds.filter((r) => r.quiet);
    return quiet.length > 0 && run.quietMax !== null ? quiet : rounds;
  };
  const range = (values: number[]) =>
    values.length > 1 ? ` (${Math.min(...values).toFixed(2)} to ${Math.max(...values).toFixed(2)})` : '';
  const cores = (values: Array<number | null>) => {
    const known = values.filter((v): v is number => v !== null);
    return known.length ? median(known).toFixed(2) : '–';
  };
  const setup = run.pinning
    ? `Pinned with taskset: the load generator and the upstream on CPU ${run.pinning.load}; the first router process alone on CPU ${run.pinning.proxy} (as in the table above), the second on CPU ${run.pinning.load}, shared with the load generator and the upstream, since this machine has no third core.`
    : 'Not pinned: the load generator, the upstream and the router processes share every core.';
  const roundsNote = methods
    .map((m) => {
      const rounds = all.filter((r) => r.method === m);
      const quiet = rounds.filter((r) => r.quiet).length;
      if (run.quietMax === null) return `${rounds.length} ${m} rounds`;
      return quiet > 0
        ? `${quiet} quiet ${m} rounds${rounds.length > quiet ? ` (${rounds.length - quiet} noisy left out)` : ''}`
        : `${rounds.length} ${m} rounds, NONE of them quiet`;
    })
    .join(', ');
  const backgrounds = all.map((r) => r.background);
  const load =
    run.quietMax === null
      ? ''
      : ` Other processes used ${median(backgrounds).toFixed(0)} % of the machine in the median round (${Math.min(...backgrounds).toFixed(0)} to ${Math.max(...backgrounds).toFixed(0)} %); a round counts as quiet under ${run.quietMax} %.`;
  const lines = [
    '### Two router processes against one',
    '',
    `Measured ${measuredOn()}, with \`${run.command}\`, in the same run as the table above and on the same requests. Two processes are two routers on two ports, and the load generator spreads its connections evenly over both (${run.connections / 2} each), as a Service spreads them over router pods. ${setup} Each round measures direct, one process and two processes back to back, in an order reversed from round to round (${roundsNote}): saturation with autocannon, ${run.connections} connections, ${run.seconds} s each, with the CPU the router processes and the load generator plus upstream used meanwhile, in cores; then ${run.rate} req/s on a fixed schedule for ${run.roundSeconds} s each (two processes: every other request to each). Figures are medians over the rounds; "vs one process" is the median over the rounds of the ratio within each round, with the smallest and largest in brackets.${load} The routers run ${run.redis ? 'with Redis (traffic counts, write fence)' : 'without Redis (no traffic counts or write fence)'}.`,
    '',
    '| request | target | req/s at saturation | vs one process | router CPU, cores | load generator + upstream CPU, cores | p50 ms at fixed rate | p99 ms at fixed rate | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const summary: string[] = [];
  for (const method of methods) {
    const rounds = counted(method);
    for (const s of SETUPS) {
      const ratios = rounds.map((r) => r.sat[s].rps / r.sat.one.rps);
      const errors = rounds.reduce((n, r) => n + r.sat[s].errors + r.latency[s].errors, 0);
      lines.push(
        `| ${method} | ${SETUP_NAMES[s]} | ${Math.round(median(rounds.map((r) => r.sat[s].rps)))} | ${median(ratios).toFixed(2)}${s === 'one' ? '' : range(ratios)} | ${s === 'direct' ? '–' : cores(rounds.map((r) => r.routerCores[s]))} | ${cores(rounds.map((r) => r.loadCores[s]))} | ${median(rounds.map((r) => r.latency[s].p50)).toFixed(2)} | ${median(rounds.map((r) => r.latency[s].p99)).toFixed(2)} | ${errors} |`,
      );
    }
    const ratio = (f: (r: ProcessesRound, s: Setup) => number) =>
      median(rounds.map((r) => f(r, 'two') / f(r, 'one'))).toFixed(2);
    summary.push(
      `${method} ${ratio((r, s) => r.sat[s].rps)} × the requests/s at saturation, p50 ${ratio((r, s) => r.latency[s].p50)} × and p99 ${ratio((r, s) => r.latency[s].p99)} × at ${run.rate} req/s`,
    );
  }
  lines.push('', `Two processes against one, in this run: ${summary.join('; ')}.`);
  return lines.join('\n');
}

await main();
