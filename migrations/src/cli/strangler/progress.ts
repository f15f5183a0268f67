import { Presets, SingleBar } from 'cli-progress';
import type { BackfillProgress } from '../../sync/backfill.ts';
import { count, duration } from './format.ts';
import type { Print } from './output.ts';

/** The backfill's progress: a bar redrawn in place on a terminal, else a line at most every second. */

export interface ProgressDisplay {
  onProgress(p: BackfillProgress): void;
  /** Takes the bar off the screen, before anything else is printed. */
  stop(): void;
}

const rate = (p: BackfillProgress): string => count(Math.round(p.rowsPerSecond));
const eta = (p: BackfillProgress): string => (p.etaSeconds === null ? '?' : duration(p.etaSeconds));

function bar(stream: NodeJS.WriteStream): ProgressDisplay {
  let current: SingleBar | undefined;
  let table = '';
  const stop = () => {
    current?.stop();
    current = undefined;
  };
  return {
    stop,
    onProgress(p) {
      if (!current || table !== p.table) {
        stop();
        table = p.table;
        current = new SingleBar(
          {
            format: `backfill ${p.table} [{bar}] {percentage}% | {rows} rows | {rate} rows/s | ETA {etaText}`,
            stream,
            barsize: 30,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        current.start(p.total, 0, { rows: '0', rate: '-', etaText: '?' });
      }
      current.setTotal(p.total);
      current.update(p.done, { rows: `${count(p.done)}/${count(p.total)}`, rate: rate(p), etaText: eta(p) });
      if (p.done >= p.total) stop();
    },
  };
}

function lines(print: Print): ProgressDisplay {
  let lastAt = 0;
  return {
    stop() {},
    onProgress(p) {
      const now = Date.now();
      const last = p.done >= p.total;
      if (!last && now - lastAt < 1000) return;
      lastAt = now;
      const pct = p.total > 0 ? Math.floor((p.done * 100) / p.total) : 100;
      print(
        `backfill ${p.table}: ${count(p.done)}/${count(p.total)} rows (${pct} %), ${rate(p)} rows/s, ETA ${eta(p)}`,
      );
    },
  };
}

export function progressDisplay(stream: NodeJS.WriteStream | undefined, print: Print): ProgressDisplay {
  return stream?.isTTY ? bar(stream) : lines(print);
}
