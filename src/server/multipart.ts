/**
 * The file parts of a multipart/form-data body. Written by hand because POST /api/transcribe needs only the file
 * parts of an already size-limited, buffered body; @fastify/multipart would add a streaming dependency.
 */

export interface FilePart {
  name: string;
  filename: string | null;
  data: Buffer;
}

export function boundaryOf(contentType: string): string | null {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match ? (match[1] ?? match[2] ?? null) : null;
}

/** Every part that carries a filename (or is named `audio`/`file`), in body order. */
export function multipartFiles(body: Buffer, boundary: string): FilePart[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: FilePart[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const headerStart = start + delimiter.length;
    // `--boundary--` closes the body.
    if (body.subarray(headerStart, headerStart + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, headerStart);
    if (next === -1) break;
    const part = body.subarray(headerStart + 2, next - 2); // skip the CRLF after the boundary and before the next
    const split = part.indexOf('\r\n\r\n');
    if (split !== -1) {
      const headers = part.subarray(0, split).toString('utf8');
      const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
      const name = /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? '';
      const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1] ?? null;
      if (filename !== null || name === 'audio' || name === 'file') {
        parts.push({ name, filename, data: part.subarray(split + 4) });
      }
    }
    start = next;
  }
  return parts;
}
