/**
 * A real, tiny filesystem that can be filled up: a tmpfs mounted on a fresh directory (needs root, as the
 * test machines run). `fill()` takes every free block with a filler file, so the next write that needs a
 * new block fails with ENOSPC (SQLite: SQLITE_FULL); `free()` deletes the filler.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FullDisk {
  dir: string;
  fill(): void;
  free(): void;
  unmount(): void;
}

export function mountTinyDisk(sizeKb = 2048): FullDisk {
  const dir = mkdtempSync(join(tmpdir(), 'ksb-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`this test needs a tiny tmpfs (mount -t tmpfs, as root): ${(err as Error).message}`);
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(4096, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
