import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareAttachments, typeAllowed } from '../activities/attachments.js';
import { addressList, addressProblem, hostAllowed } from '../activities/download.js';
import { ConfigError, parseConfig } from '../config/load.js';
import { agentAttachmentsSchema, type AgentAttachmentsConfig } from '../config/schema.js';
import { pngBytes, sha256, startFileServer } from './helpers/fileServer.js';

type FileServer = Awaited<ReturnType<typeof startFileServer>>;

/** The loopback file host, allowed explicitly (as a test must: loopback is refused by default). */
const loopback = (overrides: Partial<AgentAttachmentsConfig> = {}): AgentAttachmentsConfig =>
  agentAttachmentsSchema.parse({
    allowedHosts: ['127.0.0.1'],
    allowedSchemes: ['http'],
    allowedAddresses: ['127.0.0.1'],
    ...overrides,
  });

const prepare = (entries: unknown[], policy: AgentAttachmentsConfig, timeoutMs = 2_000) =>
  prepareAttachments(entries, policy, { timeoutMs, signal: new AbortController().signal });

describe('the SSRF guard', () => {
  it('refuses private, loopback, link-local and mapped addresses unless listed', () => {
    const none = addressList([]);
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.9',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
    ]) {
      expect(addressProblem(address, none), address).toMatch(/private, loopback or reserved/);
    }
    expect(addressProblem('93.184.215.14', none)).toBeUndefined();
    expect(addressProblem('2606:4700::1111', none)).toBeUndefined();
    const listed = addressList(['127.0.0.1', '10.0.0.0/8']);
    expect(addressProblem('127.0.0.1', listed)).toBeUndefined();
    expect(addressProblem('10.9.9.9', listed)).toBeUndefined();
    expect(addressProblem('127.0.0.2', listed)).toMatch(/loopback/);
  });

  it('matches hosts exactly, or subdomains of a *. pattern (not the apex)', () => {
    expect(hostAllowed('files.example.com', ['files.example.com'])).toBe(true);
    expect(hostAllowed('evil-files.example.com', ['files.example.com'])).toBe(false);
    expect(hostAllowed('a.cdn.example.com', ['*.example.com'])).toBe(true);
    expect(hostAllowed('example.com', ['*.example.com'])).toBe(false);
    expect(hostAllowed('example.com.evil.io', ['*.example.com'])).toBe(false);
    expect(hostAllowed('anything', [])).toBe(false);
  });

  it('matches types exactly or by image/* style patterns', () => {
    expect(typeAllowed('image/png', ['image/*'])).toBe(true);
    expect(typeAllowed('application/pdf', ['image/*', 'application/pdf'])).toBe(true);
    expect(typeAllowed('text/html', ['image/*', 'text/plain'])).toBe(false);
  });
});

describe('preparing the files of a reply', () => {
  let files: FileServer;
  const png = pngBytes(3_000);
  beforeAll(async () => {
    files = await startFileServer();
    files.add('photo.png', 'image/png', png);
    files.add('page.html', 'text/html', Buffer.from('<html></html>'));
  });
  afterAll(() => files?.close());

  it('downloads an allowed URL and decodes inline base64, in the reply order', async () => {
    const inline = Buffer.from('hello, file');
    const prepared = await prepare(
      [
        { url: files.url('/files/photo.png'), file_name: 'photo.png', content_type: 'image/png' },
        { data: inline.toString('base64'), file_name: 'notes.txt', content_type: 'text/plain' },
      ],
      loopback(),
    );
    expect(prepared.report).toEqual([
      { fileName: 'photo.png', contentType: 'image/png', status: 'posted', bytes: 3_000 },
      { fileName: 'notes.txt', contentType: 'text/plain', status: 'posted', bytes: inline.length },
    ]);
    expect(prepared.files.map((f) => sha256(Buffer.from(f.bytes)))).toEqual([
      sha256(png),
      sha256(inline),
    ]);
  });

  it('fetches nothing by default: no host is allowed, loopback is refused, https only', async () => {
    const entry = {
      url: files.url('/files/photo.png'),
      file_name: 'p.png',
      content_type: 'image/png',
    };
    const before = files.requests.length;
    const defaults = agentAttachmentsSchema.parse({});
    expect((await prepare([entry], defaults)).report[0]).toMatchObject({
      status: 'refused',
      reason: expect.stringMatching(/scheme http is not in/),
    });
    const https = { ...entry, url: entry.url.replace('http:', 'https:') };
    expect(
      (await prepare([https], { ...defaults, allowedSchemes: ['https'] })).report[0],
    ).toMatchObject({
      reason: expect.stringMatching(/allowedHosts is empty, so no URL is fetched/),
    });
    // Host listed but its address is loopback and not listed: refused before connecting.
    const hostOnly = loopback({ allowedAddresses: [] });
    expect((await prepare([entry], hostOnly)).report[0]).toMatchObject({
      status: 'refused',
      reason: expect.stringMatching(/127\.0\.0\.1 is private, loopback or reserved/),
    });
    // A name that resolves to loopback is refused at lookup, whatever it is called.
    const named = { ...entry, url: entry.url.replace('127.0.0.1', 'localhost') };
    const byName = loopback({ allowedHosts: ['localhost'], allowedAddresses: [] });
    expect((await prepare([named], byName)).report[0]).toMatchObject({
      status: 'refused',
      reason: expect.stringMatching(/localhost resolves to an address .* is private, loopback/),
    });
    expect(files.requests.length).toBe(before);
  });

  it('refuses loopback however the URL spells it (decimal, hex, IPv6)', async () => {
    const policy = loopback({
      allowedHosts: ['127.0.0.1', '::1', '[::1]'],
      allowedAddresses: [],
    });
    for (const url of [
      `http://2130706433:${files.port}/files/photo.png`,
      `http://0x7f.0.0.1:${files.port}/files/photo.png`,
      `http://[::1]:${files.port}/files/photo.png`,
    ]) {
      const prepared = await prepare(
        [{ url, file_name: 'p.png', content_type: 'image/png' }],
        policy,
      );
      expect(prepared.report[0], url).toMatchObject({
        status: 'refused',
        reason: expect.stringMatching(/is private, loopback or reserved/),
      });
    }
  });

  it('follows no redirect to another host', async () => {
    const target = `http://localhost:${files.port}/files/photo.png`;
    const prepared = await prepare(
      [
        {
          url: files.url(`/redirect?to=${encodeURIComponent(target)}`),
          file_name: 'p.png',
          content_type: 'image/png',
        },
      ],
      loopback({ allowedHosts: ['127.0.0.1', 'localhost'] }),
    );
    expect(prepared.report[0]).toMatchObject({
      status: 'refused',
      reason: 'redirected to another host (localhost); not followed',
    });
    const same = await prepare(
      [
        {
          url: files.url('/redirect?to=/files/photo.png'),
          file_name: 'p.png',
          content_type: 'image/png',
        },
      ],
      loopback(),
    );
    expect(same.report[0]).toMatchObject({ status: 'posted', bytes: png.length });
  });

  it('stops a download at maxBytes, declared or streamed', async () => {
    const small = loopback({ maxBytes: 1_000, allowedTypes: ['image/*', 'application/pdf'] });
    const prepared = await prepare(
      [
        { url: files.url('/files/photo.png'), file_name: 'p.png', content_type: 'image/png' },
        {
          url: files.url('/stream?bytes=500000'),
          file_name: 's.pdf',
          content_type: 'application/pdf',
        },
      ],
      small,
    );
    expect(prepared.report.map((r) => r.reason)).toEqual([
      "file is 3,000 bytes, over the agent's attachments.maxBytes (1,000)",
      expect.stringMatching(
        /^file is over [\d,]+ bytes, over the agent's attachments\.maxBytes \(1,000\)$/,
      ),
    ]);
    expect(prepared.files).toEqual([]);
  });

  it('times out, refuses types the policy or the host disagree with, and bad entries', async () => {
    const prepared = await prepare(
      [
        { url: files.url('/slow'), file_name: 'slow.png', content_type: 'image/png' },
        { url: files.url('/files/page.html'), file_name: 'page.png', content_type: 'image/png' },
        { url: files.url('/files/page.html'), file_name: 'page.html', content_type: 'text/html' },
        {
          url: files.url('/files/missing.png'),
          file_name: 'missing.png',
          content_type: 'image/png',
        },
        {
          data: Buffer.alloc(300_000).toString('base64'),
          file_name: 'big.png',
          content_type: 'image/png',
        },
        { data: 'not base64!', file_name: 'bad.png', content_type: 'image/png' },
        { file_name: 'none.png', content_type: 'image/png' },
        'not an object',
      ],
      loopback({ maxFiles: 10 }),
      300,
    );
    expect(prepared.report.map((r) => [r.fileName, r.status, r.reason])).toEqual([
      ['slow.png', 'failed', 'the download timed out'],
      ['page.png', 'refused', 'the file host says it is text/html, the reply says image/png'],
      ['page.html', 'refused', "type text/html is not in the agent's attachments.allowedTypes"],
      ['missing.png', 'failed', 'the file host answered 404'],
      [
        'big.png',
        'refused',
        "inline data is 300,000 bytes, over the agent's attachments.maxInlineBytes (262,144); give a url instead",
      ],
      ['bad.png', 'refused', 'data is not base64'],
      ['none.png', 'refused', 'entry: give exactly one of url or data (base64)'],
      ['attachment 8', 'refused', expect.stringMatching(/expected object/)],
    ]);
  });
});

describe('the attachments configuration', () => {
  const withAttachments = (attachments: Record<string, unknown>) =>
    parseConfig({
      chatwoot: { baseUrl: 'http://localhost:3000', apiAccessToken: 'x' },
      webhook: { secrets: ['s'] },
      agents: [{ id: 'a', transport: 'ws', url: 'ws://127.0.0.1:9001', attachments }],
    });
  const errorOf = (attachments: Record<string, unknown>): string => {
    try {
      withAttachments(attachments);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    throw new Error('accepted');
  };

  it('names what to fix', () => {
    expect(errorOf({ allowedSchemes: ['ftp'] })).toContain(
      "agents.0.attachments.allowedSchemes.0: use 'https' (or 'http' on a trusted network)",
    );
    expect(errorOf({ maxBytes: 50 * 1_048_576 })).toContain(
      'agents.0.attachments.maxBytes: Chatwoot refuses files over 40 MB',
    );
    expect(errorOf({ allowedAddresses: ['localhost'] })).toContain(
      'agents.0.attachments.allowedAddresses.0: give an IP address (127.0.0.1) or a CIDR (10.0.0.0/8)',
    );
    expect(errorOf({ allowedTypes: ['png'] })).toContain(
      'agents.0.attachments.allowedTypes.0: give a type such as image/png or image/*',
    );
    expect(errorOf({ maxInlineBytes: 1_048_576 })).toContain(
      'agents.0.attachments.maxInlineBytes: inline files live in workflow history',
    );
  });

  it('keeps the safe defaults for what is not given', () => {
    const [agent] = withAttachments({ allowedHosts: ['*.cdn.example.com'] }).agents;
    expect(agent?.attachments).toMatchObject({
      allowedHosts: ['*.cdn.example.com'],
      allowedSchemes: ['https'],
      allowedAddresses: [],
    });
  });
});
