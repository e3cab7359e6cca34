import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * Downloads one file an agent named by URL, for posting into Chatwoot, guarded against the
 * agent (or whoever wrote its reply) using the bridge to reach what it should not (SSRF): only
 * the schemes and hosts the agent's config lists, never a private, loopback or link-local
 * address unless that address is listed too, checked on the address actually connected to (no
 * DNS rebinding between check and connect), redirects only to the same host, a byte cap while
 * streaming, and a timeout on the whole download.
 */

export interface DownloadPolicy {
  allowedSchemes: string[];
  /** Host names (`files.example.com`) or subdomain patterns (`*.example.com`). */
  allowedHosts: string[];
  /** Non-public addresses (IPs or CIDRs) that may still be reached, e.g. `127.0.0.1` in tests. */
  allowedAddresses: string[];
  maxBytes: number;
}

/** The download was not attempted, or stopped, because the policy forbids it. */
export class DownloadRefused extends Error {
  override name = 'DownloadRefused';
}

/** The server or the network failed (status, timeout, reset). */
export class DownloadFailed extends Error {
  override name = 'DownloadFailed';
}

export interface Downloaded {
  bytes: Uint8Array;
  /** The server's `Content-Type` without parameters, if it sent one. */
  contentType: string | undefined;
}

const MAX_REDIRECTS = 3;

/**
 * Special-purpose ranges (IANA registries): nothing an agent's file host has any business
 * resolving to. IPv4-mapped IPv6 addresses are matched against the IPv4 rules by BlockList.
 */
const NON_PUBLIC: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

const nonPublic = new BlockList();
for (const [network, prefix, family] of NON_PUBLIC) nonPublic.addSubnet(network, prefix, family);

function familyOf(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** The policy's `allowedAddresses` as a BlockList (entries are `1.2.3.4` or `10.0.0.0/8`). */
export function addressList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = familyOf(address);
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** Why connecting to `address` is refused, or undefined when it may be reached. */
export function addressProblem(address: string, allowed: BlockList): string | undefined {
  const family = familyOf(address);
  if (!nonPublic.check(address, family) || allowed.check(address, family)) return undefined;
  return `address ${address} is private, loopback or reserved (list it in attachments.allowedAddresses to allow it)`;
}

/** Whether `host` (lower case, no brackets) is one the policy names. */
export function hostAllowed(host: string, allowedHosts: string[]): boolean {
  return allowedHosts.some((pattern) => {
    const wanted = pattern.toLowerCase();
    if (wanted.startsWith('*.')) return host.endsWith(wanted.slice(1)) && host !== wanted.slice(2);
    return host === wanted;
  });
}

/** Why `url` may not be fetched under `policy`, or undefined. */
export function urlProblem(url: URL, policy: DownloadPolicy): string | undefined {
  const scheme = url.protocol.replace(/:$/, '');
  if (!policy.allowedSchemes.includes(scheme)) {
    return `scheme ${scheme} is not in the agent's attachments.allowedSchemes (${policy.allowedSchemes.join(', ') || 'none'})`;
  }
  if (url.username || url.password) return 'URLs with credentials are not fetched';
  const host = hostOf(url);
  if (!hostAllowed(host, policy.allowedHosts)) {
    return policy.allowedHosts.length === 0
      ? `host ${host} is not allowed: the agent's attachments.allowedHosts is empty, so no URL is fetched`
      : `host ${host} is not in the agent's attachments.allowedHosts`;
  }
  return undefined;
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * Fetches `rawUrl` within `policy`, giving up at `signal` (the caller's timeout and
 * cancellation). Throws DownloadRefused or DownloadFailed with a reason a person can act on.
 */
export async function download(
  rawUrl: string,
  policy: DownloadPolicy,
  signal: AbortSignal,
): Promise<Downloaded> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new DownloadRefused('not a valid URL');
  }
  const allowed = addressList(policy.allowedAddresses);
  const originHost = hostOf(url);
  for (let redirects = 0; ; redirects += 1) {
    const problem = urlProblem(url, policy);
    if (problem) throw new DownloadRefused(problem);
    const response = await get(url, allowed, signal);
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      const next = new URL(response.headers.location, url);
      if (hostOf(next) !== originHost) {
        throw new DownloadRefused(`redirected to another host (${hostOf(next)}); not followed`);
      }
      if (redirects >= MAX_REDIRECTS) throw new DownloadFailed('too many redirects');
      url = next;
      continue;
    }
    if (status < 200 || status >= 300) {
      response.resume();
      throw new DownloadFailed(`the file host answered ${status}`);
    }
    return {
      bytes: await readCapped(response, policy.maxBytes, signal),
      contentType: response.headers['content-type']?.split(';')[0]?.trim().toLowerCase(),
    };
  }
}

/** One GET; the connection goes only to an address `addressProblem` lets through. */
function get(url: URL, allowed: BlockList, signal: AbortSignal): Promise<IncomingMessage> {
  const host = hostOf(url);
  if (isIP(host)) {
    // Literal addresses skip the lookup below, so they are checked here.
    const problem = addressProblem(host, allowed);
    if (problem) return Promise.reject(new DownloadRefused(problem));
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'GET', signal, lookup: guardedLookup(allowed), headers: { accept: '*/*' } },
      resolve,
    );
    req.on('error', (error) => reject(asDownloadError(error, signal)));
    req.end();
  });
}

/** dns.lookup that refuses (before any connect) addresses the policy does not allow. */
function guardedLookup(allowed: BlockList) {
  return (
    hostname: string,
    options: LookupOptions,
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      const refused = addresses.map((a) => addressProblem(a.address, allowed)).find(Boolean);
      if (refused)
        return callback(new DownloadRefused(`${hostname} resolves to an ${refused}`), '');
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new DownloadFailed(`${hostname} has no address`), '');
      callback(null, first.address, first.family);
    });
  };
}

async function readCapped(
  response: IncomingMessage,
  maxBytes: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw new DownloadRefused(tooLarge(declared, maxBytes));
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response) {
      const buffer = chunk as Buffer;
      total += buffer.length;
      if (total > maxBytes) {
        response.destroy();
        throw new DownloadRefused(tooLarge(total, maxBytes, true));
      }
      chunks.push(buffer);
    }
  } catch (error) {
    if (error instanceof DownloadRefused) throw error;
    if (signal.aborted) throw asDownloadError(error as Error, signal);
    throw new DownloadFailed(`the download broke off: ${(error as Error).message}`);
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

/** `atLeast`: the stream was cut at `bytes`, the file is larger still. */
export function tooLarge(bytes: number, maxBytes: number, atLeast = false): string {
  const size = `${atLeast ? 'over ' : ''}${bytes.toLocaleString('en')} bytes`;
  return `file is ${size}, over the agent's attachments.maxBytes (${maxBytes.toLocaleString('en')})`;
}

function asDownloadError(error: Error, signal: AbortSignal): Error {
  if (error instanceof DownloadRefused || error.cause instanceof DownloadRefused) {
    return error instanceof DownloadRefused ? error : (error.cause as DownloadRefused);
  }
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
    return new DownloadFailed(timedOut ? 'the download timed out' : 'the download was cancelled');
  }
  return new DownloadFailed(`the download failed: ${error.message}`);
}
