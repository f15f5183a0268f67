import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Pool } from 'undici';

/**
 * `pnpm bench:router`: the router against its limit and its peer, in one run.
 * Targets, all in front of the same stub upstream (bench/stub-upstream.ts):
 *   direct   the upstream itself (the limit)
 *   bare     a bare @fastify/http-proxy (the peer)
 *   router   our edge router: route table, decision, flags, metrics, logging on
 *   nginx    nginx as reverse proxy, when it is installed
 * For each: requests/s at saturation, then p50/p99 latency at a fixed rate, on
 * a GET and a POST. Results are printed and written into docs/benchmarks.md.
 */

const HELP = `Usage: pnpm bench:router [--duration <s>] [--rate <req/s>] [--connections <n>] [--no-write]

  --duration <s>      seconds per measurement (default 10)
  --rate <req/s>      the fixed rate for the latency measurement (default 1000)
  --connections <n>   connections at saturation (default 50)
  --no-write          print the table without updating docs/benchmarks.md
`;

const ROOT = resolve(import.meta.dirname, '../..');
const BENCH = import.meta.dirname;

interface Proc {
  child: ChildProcess;
  port: number;
}

function start(script: string, env: Record<string, string>): Promise<Proc> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script], {
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

function startNginx(upstreamPort: number, port: number): Promise<Proc | null> {
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
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  return new Promise((r) => setTimeout(() => r({ child, port }), 500));
}

interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function measure(port: number, method: 'GET' | 'POST', seconds: number, connections: number, rate?: number) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${method === 'GET' ? '/api/products/1' : '/api/orders'}`,
    method,
    connections,
    duration: seconds,
    ...(rate ? { overallRate: rate } : {}),
    ...(method === 'POST'
      ? {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ userId: 1, items: [{ productId: 1, quantity: 1 }] }),
        }
      : {}),
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

/**
 * Latency at a fixed request rate, with microsecond resolution (autocannon
 * reports whole milliseconds): requests are started on schedule whether or not
 * earlier ones have finished (no coordinated omission), and each is timed
 * from its scheduled start.
 */
async function measureLatency(
  port: number,
  method: 'GET' | 'POST',
  rate: number,
  seconds: number,
): Promise<Measurement> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64, pipelining: 1 });
  const body = method === 'POST' ? JSON.stringify({ userId: 1, items: [{ productId: 1, quantity: 1 }] }) : undefined;
  const latencies: number[] = [];
  let errors = 0;
  const total = rate * seconds;
  const start = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, Math.ceil(wait)));
    inFlight.push(
      pool
        .request({
          method,
          path: method === 'GET' ? '/api/products/1' : '/api/orders',
          ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
        })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode >= 400) errors++;
          latencies.push(performance.now() - due);
        })
        .catch(() => {
          errors++;
        }),
    );
  }
  await Promise.all(inFlight);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      rate: { type: 'string', default: '1000' },
      connections: { type: 'string', default: '50' },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const seconds = Number(values.duration);
  const rate = Number(values.rate);
  const connections = Number(values.connections);
  if (![seconds, rate, connections].every((n) => Number.isInteger(n) && n > 0)) {
    console.error('error: --duration, --rate and --connections must be positive whole numbers');
    process.exitCode = 2;
    return;
  }

  const procs: ChildProcess[] = [];
  try {
    const stub = await start(join(BENCH, 'stub-upstream.ts'), { PORT: '0' });
    procs.push(stub.child);
    const upstreamUrl = `http://127.0.0.1:${stub.port}`;
    const bare = await start(join(BENCH, 'bare-proxy.ts'), { PORT: '0', UPSTREAM_URL: upstreamUrl });
    procs.push(bare.child);
    const router = await start(join(BENCH, 'router-process.ts'), { PORT: '0', MONOLITH_URL: upstreamUrl });
    procs.push(router.child);
    const nginx = await startNginx(stub.port, 18080 + Math.floor(Math.random() * 1000));
    if (nginx) procs.push(nginx.child);

    const targets: Array<[string, number]> = [
      ['direct (the limit)', stub.port],
      ['@fastify/http-proxy (bare peer)', bare.port],
      ['edge-router (flags, metrics, logs)', router.port],
      ...(nginx ? ([['nginx', nginx.port]] as Array<[string, number]>) : []),
    ];
    const rows: Array<{ target: string; method: string; sat: Measurement; fixed: Measurement }> = [];
    for (const method of ['GET', 'POST'] as const) {
      for (const [name, port] of targets) {
        await measure(port, method, 2, 10); // warm up pools and JIT
        const sat = await measure(port, method, seconds, connections);
        const fixed = await measureLatency(port, method, rate, seconds);
        rows.push({ target: name, method, sat, fixed });
        console.log(
          `${method} ${name}: ${Math.round(sat.rps)} req/s; at ${rate} req/s p50 ${fixed.p50.toFixed(2)} ms p99 ${fixed.p99.toFixed(2)} ms; errors ${sat.errors + fixed.errors}`,
        );
      }
    }
    const table = render(rows, { seconds, rate, connections, nginx: Boolean(nginx) });
    console.log(`\n${table}`);
    if (!values['no-write']) {
      writeSection(table);
      console.log('docs/benchmarks.md updated.');
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
  }
}

function render(
  rows: Array<{ target: string; method: string; sat: Measurement; fixed: Measurement }>,
  run: { seconds: number; rate: number; connections: number; nginx: boolean },
): string {
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, with \`pnpm bench:router\`: ${run.seconds} s per measurement, ${run.connections} connections at saturation (autocannon), then ${run.rate} req/s on a fixed schedule for latency, each request timed from its scheduled start (no coordinated omission). Load generator, proxies and upstream share the machine, so compare the ratios, not the absolute numbers.${run.nginx ? '' : ' nginx was not installed, so it is not in this run.'}`,
    '',
    '| request | target | req/s at saturation | vs direct | p50 ms at fixed rate | p99 ms at fixed rate | p99 added vs direct | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const direct = rows.find((d) => d.method === r.method && d.target.startsWith('direct')) as (typeof rows)[number];
    lines.push(
      `| ${r.method} | ${r.target} | ${Math.round(r.sat.rps)} | ${(r.sat.rps / direct.sat.rps).toFixed(2)} | ${r.fixed.p50.toFixed(2)} | ${r.fixed.p99.toFixed(2)} | ${r.target.startsWith('direct') ? '–' : `${(r.fixed.p99 - direct.fixed.p99).toFixed(2)} ms`} | ${r.sat.errors + r.fixed.errors} |`,
    );
  }
  return lines.join('\n');
}

const BEGIN = '<!-- bench:router:begin -->';
const END = '<!-- bench:router:end -->';

function writeSection(table: string): void {
  const file = join(ROOT, 'docs/benchmarks.md');
  let doc: string;
  try {
    doc = readFileSync(file, 'utf8');
  } catch {
    doc = '# Benchmarks\n\nEvery table here is written by the command named above it; do not edit them by hand.\n';
  }
  const section = `${BEGIN}\n${table}\n${END}`;
  if (doc.includes(BEGIN) && doc.includes(END)) {
    doc = doc.slice(0, doc.indexOf(BEGIN)) + section + doc.slice(doc.indexOf(END) + END.length);
  } else {
    doc += `\n## Edge router\n\n${section}\n`;
  }
  writeFileSync(file, doc);
}

await main();
