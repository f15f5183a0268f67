import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy in front of a server that holds every byte of its answers for
 * `delayMs` (0: none), so the server looks slow to its callers while its code
 * and its database are untouched.
 */
export class DelayProxy {
  delayMs = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #target: { host: string; port: number };

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(targetUrl: string): Promise<DelayProxy> {
    const target = new URL(targetUrl);
    const proxy = new DelayProxy({ host: target.hostname, port: Number(target.port) });
    proxy.#server.listen(0, '127.0.0.1');
    await once(proxy.#server, 'listening');
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as { port: number }).port}`;
  }

  #accept(client: Socket): void {
    const upstream = tcpConnect(this.#target);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    }
    // A dropped connection on either side drops the other, as it would without the proxy.
    client.once('error', () => upstream.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('error', () => client.destroy());
    client.pipe(upstream);
    // The answer's bytes, in order, each held for the delay in force when it arrived.
    let chain = Promise.resolve();
    const later = (fn: () => void) => {
      const due = Date.now() + this.delayMs;
      chain = chain.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (!client.destroyed) fn();
      });
    };
    upstream.on('data', (chunk: Buffer) => later(() => client.write(chunk)));
    upstream.once('end', () => later(() => client.end()));
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
