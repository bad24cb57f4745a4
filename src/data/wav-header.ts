/** The format of a RIFF/WAVE file from its chunks, read without decoding audio (the native side decodes). */
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';

export interface WavInfo {
  /** 1 = integer PCM, 3 = IEEE float, 0xFFFE = extensible. */
  audioFormat: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Bytes of sample data (the `data` chunk's size, clamped to what the file holds). */
  dataBytes: number;
  frames: number;
  seconds: number;
}

/** Reads the `fmt ` and `data` chunk headers of `file`; throws an Error naming the file when it is not a WAV. */
export function readWavInfo(file: string): WavInfo {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(12);
    readSync(fd, head, 0, 12, 0);
    if (head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') {
      throw new Error(`${file} is not a RIFF/WAVE file`);
    }
    let offset = 12;
    let fmt: Omit<WavInfo, 'dataBytes' | 'frames' | 'seconds'> | undefined;
    const chunk = Buffer.alloc(24);
    while (offset + 8 <= size) {
      readSync(fd, chunk, 0, 24, offset);
      const id = chunk.toString('ascii', 0, 4);
      const length = chunk.readUInt32LE(4);
      if (id === 'fmt ') {
        fmt = {
          audioFormat: chunk.readUInt16LE(8),
          channels: chunk.readUInt16LE(10),
          sampleRate: chunk.readUInt32LE(12),
          bitsPerSample: chunk.readUInt16LE(22),
        };
      } else if (id === 'data') {
        if (!fmt) throw new Error(`${file}: data chunk before the fmt chunk`);
        // Streaming writers leave a placeholder size; what the file holds is the truth.
        const dataBytes = Math.min(length, size - offset - 8);
        const frames = Math.floor(dataBytes / ((fmt.bitsPerSample / 8) * fmt.channels));
        return { ...fmt, dataBytes, frames, seconds: frames / fmt.sampleRate };
      }
      offset += 8 + length + (length % 2);
    }
    throw new Error(`${file}: no data chunk`);
  } finally {
    closeSync(fd);
  }
}
