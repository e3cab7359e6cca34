import { createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A plain HTTP file host on loopback for attachment tests: `/files/{name}` serves registered
 * bytes with their type; `/redirect?to=` answers 302; `/stream?bytes=` streams that many bytes
 * with no Content-Length; `/slow` never answers.
 */
export async function startFileServer() {
  const files = new Map<string, { type: string; bytes: Buffer }>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://files');
    requests.push(url.pathname + url.search);
    if (url.pathname.startsWith('/files/')) {
      const file = files.get(decodeURIComponent(url.pathname.slice('/files/'.length)));
      if (!file) return res.writeHead(404).end('not found');
      return res
        .writeHead(200, { 'content-type': file.type, 'content-length': file.bytes.length })
        .end(file.bytes);
    }
    if (url.pathname === '/redirect') {
      return res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
    }
    if (url.pathname === '/stream') return stream(res, Number(url.searchParams.get('bytes')));
    if (url.pathname === '/slow') return; // never answered
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    requests,
    /** `http://127.0.0.1:{port}{path}`. */
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    /** Serves `bytes` at `/files/{name}`; returns their SHA-256 (hex), as the fake Chatwoot stores it. */
    add(name: string, type: string, bytes: Buffer): string {
      files.set(name, { type, bytes });
      return sha256(bytes);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Some bytes that look like a PNG (signature first) of `size` bytes. */
export function pngBytes(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size, seed);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes);
  return bytes;
}

function stream(res: ServerResponse, bytes: number): void {
  res.writeHead(200, { 'content-type': 'application/pdf' });
  let left = bytes;
  const chunk = Buffer.alloc(16_384, 7);
  const pump = () => {
    while (left > 0) {
      const part = chunk.subarray(0, Math.min(left, chunk.length));
      left -= part.length;
      if (!res.write(part)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}
