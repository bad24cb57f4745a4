/** The addon's part of a save, without LibTorch; also imported by the fixture processes (no vitest here). */
import { randomBytes, randomInt } from 'node:crypto';
import { open, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * What the addon's save does (native/core/src/checkpoint.cpp): `PATH.tmp-{pid}-{n}`, fsync, rename,
 * folder fsync. The bytes are random: the store never parses a `.pt`.
 */
export async function writeFakePt(filePath: string, bytes = 256): Promise<void> {
  const temp = `${filePath}.tmp-${process.pid}-${randomInt(1 << 30)}`;
  const handle = await open(temp, 'wx');
  await handle.writeFile(randomBytes(bytes));
  await handle.sync();
  await handle.close();
  await rename(temp, filePath);
  const folder = await open(path.dirname(filePath), 'r');
  await folder.sync();
  await folder.close();
}
